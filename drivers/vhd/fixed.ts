// Fixed disks: the virtual disk's bytes, then the footer. Writes go in
// place, so a crash can only lose writes made since the last flush.
import { BlockError, checkRequest } from '../block/device.ts';
import type { RandomAccessFile } from '../block/file.ts';
import type { VhdDisk } from './disk.ts';
import { VhdError } from './errors.ts';
import type { Footer } from './footer.ts';
import type { Layout } from './layout.ts';

export class FixedVhd implements VhdDisk {
  readonly type = 'fixed' as const;
  readonly size: number;
  readonly footer: Footer;
  readonly header = null;
  readonly parent = null;
  private closed = false;

  constructor(
    private readonly file: RandomAccessFile,
    layout: Layout,
    readonly readOnly = false,
  ) {
    this.size = layout.size;
    this.footer = layout.footer;
  }

  read(offset: number, buf: Uint8Array): void {
    checkRequest(this, offset, buf.length, false);
    const n = this.file.read(buf, offset);
    if (n !== buf.length) throw new VhdError('io', `short read at ${offset}: file ends ${buf.length - n} bytes early`);
  }

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
