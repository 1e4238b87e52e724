// Types of scripts/playground.js, run as is by scripts/build.js and imported by the tests.
export function bundlePlayground(): Promise<void>;
