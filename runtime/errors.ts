// Error classes shared across the runtime. The CLI turns these into a
// one-line message and exit status 2; anything else is a bug.

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
