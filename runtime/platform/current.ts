// The platform a program is bundled for (platform.ts). This file names the
// Node one; the playground's browser bundles replace it with browser.ts.
export { platform, threadContext } from './node.ts';
