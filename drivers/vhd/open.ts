// Opens an image held in a RandomAccessFile (no path resolution: a
// differencing disk's parent must be supplied; see chain.ts for files).
import type { BlockDevice } from '../block/device.ts';
import type { RandomAccessFile } from '../block/file.ts';
import type { VhdDisk } from './disk.ts';
import { DynamicVhd } from './dynamic.ts';
import { FixedVhd } from './fixed.ts';
import { readLayout, strictSink, type IssueSink } from './layout.ts';

export interface OpenFileOptions {
  readOnly?: boolean;
  parent?: BlockDevice | null;
  ownsParent?: boolean;
  /** Where layout problems go; by default the first error throws a VhdError. */
  report?: IssueSink;
}

export function openVhdFile(file: RandomAccessFile, opts: OpenFileOptions = {}): VhdDisk {
  const layout = readLayout(file, opts.report ?? strictSink);
  if (layout.type === 'fixed') return new FixedVhd(file, layout, opts.readOnly ?? false);
  return new DynamicVhd(file, layout, opts);
}
