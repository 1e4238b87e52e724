// The one error type of save/restore: a save file or record that cannot be
// restored here (truncated, corrupt, of another version, of another
// machine). It names the section, record or field at fault, and it is an
// InputError, so the CLI prints it as one line and exits 2.
import { InputError } from '../errors.ts';

export class PersistError extends InputError {
  /** Where the problem is: "section MEM", "vcpu0", "uart0.lsr", "disk 0". */
  readonly field: string;
  constructor(field: string, problem: string, options?: { cause?: unknown }) {
    super(`${field}: ${problem}`, options);
    this.name = 'PersistError';
    this.field = field;
  }
}
