// What every opened VHD offers beyond the BlockDevice interface.
import type { BlockDevice } from '../block/device.ts';
import type { DiskType, Footer } from './footer.ts';
import type { DynamicHeader } from './header.ts';

export interface VhdDisk extends BlockDevice {
  readonly type: DiskType;
  readonly footer: Footer;
  readonly header: DynamicHeader | null;
  /** The parent device of a differencing disk (possibly itself a VhdDisk). */
  readonly parent: BlockDevice | null;
}

/** A byte range of the virtual disk. */
export interface Extent {
  start: number;
  length: number;
}

/** Appends [start, start+length) to a list of extents, merging with the last one when contiguous. */
export function pushExtent(list: Extent[], start: number, length: number): void {
  const last = list[list.length - 1];
  if (last && last.start + last.length === start) last.length += length;
  else list.push({ start, length });
}
