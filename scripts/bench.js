// `npm run bench`: bundles bench/main.ts (TypeScript) and runs it.
import { bundleAndRun } from './bundle.js';

await bundleAndRun('bench/main.ts', 'bench', process.argv.slice(2), ['--expose-gc']);
