// Errors the CLI turns into a one-line message and exit status 2.
export { InputError, UsageError } from '../errors.ts';

export const EXIT_USAGE = 2;
export const EXIT_TIMEOUT = 124;
