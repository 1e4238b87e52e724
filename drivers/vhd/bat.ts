// The block allocation table: one big-endian u32 per block, the sector
// offset of the block's bitmap, or all ones when the block is unallocated.
import type { RandomAccessFile } from '../block/file.ts';
import { VhdError } from './errors.ts';

export const UNALLOCATED = 0xffff_ffff;
/** BAT entries in one 512-byte sector. */
export const ENTRIES_PER_SECTOR = 128;

export function readBat(file: RandomAccessFile, offset: number, entries: number): Uint32Array {
  const raw = new Uint8Array(entries * 4);
  if (file.read(raw, offset) !== raw.length) throw new VhdError('truncated', `BAT at ${offset} runs past the end of the file`);
  return decodeBat(raw);
}

export function decodeBat(raw: Uint8Array): Uint32Array {
  const bat = new Uint32Array(raw.length / 4);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < bat.length; i++) bat[i] = dv.getUint32(i * 4);
  return bat;
}

/** Big-endian bytes of entries [from, to). */
export function encodeBat(bat: Uint32Array, from = 0, to = bat.length): Uint8Array {
  const out = new Uint8Array((to - from) * 4);
  const dv = new DataView(out.buffer);
  for (let i = from; i < to; i++) dv.setUint32((i - from) * 4, bat[i]!);
  return out;
}

/** A sector-padded BAT image, padding filled with unallocated entries. */
export function encodeBatPadded(bat: Uint32Array): Uint8Array {
  const out = new Uint8Array(Math.ceil((bat.length * 4) / 512) * 512).fill(0xff);
  out.set(encodeBat(bat));
  return out;
}
