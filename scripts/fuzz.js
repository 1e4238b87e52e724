// `npm run fuzz -- --minutes N [--seed S]`: bundles test/fuzz/main.ts and runs it.
import { bundleAndRun } from './bundle.js';

await bundleAndRun('test/fuzz/main.ts', 'fuzz', process.argv.slice(2));
