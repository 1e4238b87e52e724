// Errors the CLI turns into a one-line message and exit status 2.
export { InputError, UsageError } from '../errors.ts';

export const EXIT_USAGE = 2;
export const EXIT_TIMEOUT = 124;
/** An internal error (sysexits.h EX_SOFTWARE), as for a bug in hv itself. */
export const EXIT_SOFTWARE = 70;
