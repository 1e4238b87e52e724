// Fixed disks: the virtual disk's bytes, then the footer. Writes go in
// place, so a crash can only lose writes made since the last flush.
import type { RandomAccessFile } from '../block/file.ts';
import { FlatFileDevice } from '../block/flat.ts';
import type { VhdDisk } from './disk.ts';
import { VhdError } from './errors.ts';
import type { Footer } from './footer.ts';
import type { Layout } from './layout.ts';

export class FixedVhd extends FlatFileDevice implements VhdDisk {
  readonly type = 'fixed' as const;
  readonly size: number;
  readonly footer: Footer;
  readonly header = null;
  readonly parent = null;

  constructor(file: RandomAccessFile, layout: Layout, readOnly = false) {
    super(file, readOnly);
    this.size = layout.size;
    this.footer = layout.footer;
  }

  protected shortRead(offset: number, buf: Uint8Array, n: number): void {
    throw new VhdError('io', `short read at ${offset}: file ends ${buf.length - n} bytes early`);
  }
}
