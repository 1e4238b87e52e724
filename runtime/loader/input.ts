// Reading an input file (firmware, kernel, initrd, a VM config) with a
// bound: the size is checked before the body is read where the file has
// one, and a file without one (/dev/zero, a FIFO) is read only up to the
// bound, so no input can fill the host's memory or keep it reading for ever.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { formatSize } from '../../drivers/board/size.ts';
import { InputError } from '../errors.ts';

/** An input larger than what may be read (or loaded) for it. */
export class InputTooLargeError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'InputTooLargeError';
  }
}

const HEAD = 64;
const CHUNK = 1 << 20;

/**
 * The bytes of `path`, at most `maxBytes` of them, or an InputError; `what`
 * names the input in errors ("kernel"). `bound`, given the first 64 bytes
 * (fewer if the file is shorter), may set another bound: an ELF may be
 * larger than what it loads, raw bytes may not.
 */
export function readBounded(path: string, what: string, maxBytes: number, bound?: (head: Uint8Array) => number): Uint8Array {
  const fail = (e: unknown): never => {
    throw new InputError(`cannot read ${what} '${path}': ${(e as NodeJS.ErrnoException).code ?? e}`, { cause: e });
  };
  let fd = -1;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    fail(e);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) fail('EISDIR');
    const chunks: Uint8Array[] = []; // not Buffer: the browser's root thread reads files here too
    let total = 0;
    /** Reads until `upTo` bytes in all or the end of the file; false at the end. */
    const readTo = (upTo: number): boolean => {
      while (total < upTo) {
        // A regular file's size bounds the buffer (plus the byte that tells
        // its end, and room should it grow): a 4 KiB guest read into a 1 MiB
        // buffer cost a partition's creation most of its time in allocation
        // and collection (1,000 partitions: 1 GiB of garbage).
        const left = st.isFile() ? Math.max(st.size + 1 - total, 4096) : CHUNK;
        const buf = new Uint8Array(Math.min(CHUNK, upTo - total, left));
        let n = 0;
        try {
          n = readSync(fd, buf, 0, buf.length, null);
        } catch (e) {
          fail(e);
        }
        if (n === 0) return false;
        chunks.push(buf.subarray(0, n));
        total += n;
      }
      return true;
    };
    const concat = () => {
      const out = new Uint8Array(total);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.length;
      }
      return out;
    };
    readTo(HEAD);
    const limit = bound ? bound(concat()) : maxBytes;
    const tooLarge = (size?: number) =>
      new InputTooLargeError(
        `${what} '${path}' is ${size === undefined ? 'larger' : `${formatSize(size)}, larger`} than the ${formatSize(limit)} it may take${bound ? " (what fits in the guest's RAM)" : ''}`,
      );
    if (st.isFile() && st.size > limit) throw tooLarge(st.size);
    // One byte past the bound tells "exactly the bound" from "more".
    if (readTo(limit + 1)) throw tooLarge(st.isFile() ? st.size : undefined);
    return concat();
  } finally {
    closeSync(fd);
  }
}
