// A disk whose bytes sit in a file as one run, at offset 0: raw images and
// fixed VHDs (whose footer follows the run). Reads, writes, flush and close
// are the same for both; what a read past the file's end means is not (a
// raw image's file may be shorter than its size only by a partial sector,
// read as zeros; a fixed VHD's never is).
import { BlockError, type BlockDevice, checkRequest } from './device.ts';
import type { RandomAccessFile } from './file.ts';

export abstract class FlatFileDevice implements BlockDevice {
  abstract readonly size: number;
  private closed = false;

  constructor(
    protected readonly file: RandomAccessFile,
    readonly readOnly: boolean,
  ) {}

  read(offset: number, buf: Uint8Array): void {
    checkRequest(this, offset, buf.length, false);
    const n = this.file.read(buf, offset);
    if (n < buf.length) this.shortRead(offset, buf, n);
  }

  /** The file held only `n` of `buf.length` bytes at `offset`. */
  protected abstract shortRead(offset: number, buf: Uint8Array, n: number): void;

  write(offset: number, buf: Uint8Array): void {
    checkRequest(this, offset, buf.length, true);
    if (this.closed) throw new BlockError('device is closed');
    this.file.write(buf, offset);
  }

  flush(): void {
    if (!this.readOnly && !this.closed) this.file.sync();
  }

  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } finally {
      this.closed = true;
      this.file.close();
    }
  }
}
