// Errors the CLI turns into a one-line message and exit status 2.

/** Bad command line: unknown option, missing argument, bad value. */
export class UsageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageError';
  }
}

/** Bad input file (malformed ELF, VHD, config...). */
export class InputError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InputError';
  }
}

export const EXIT_USAGE = 2;
export const EXIT_TIMEOUT = 124;
