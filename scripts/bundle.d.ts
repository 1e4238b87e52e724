// Types of scripts/bundle.js, a plain ES module that the build scripts run
// as is and the tests import.
export function bundle(): Promise<void>;
export function bundleAndRun(entry: string, name: string, args: string[], nodeFlags?: string[]): Promise<never>;
export function bundleFile(entry: string, out: string): Promise<string>;
