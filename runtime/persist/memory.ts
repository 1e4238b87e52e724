// Guest RAM in a save file: zero pages skipped, the rest deflated.
//
//   +0  u64 RAM size in bytes      +8 u32 page size (4096)
//   +12 bitmap, 1 bit per page (bit set: the page is stored), ceil(pages/8) bytes
//   then the stored pages in address order, deflated (raw deflate, level 1:
//   fast, and guest RAM is mostly code, zeros and text)
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { PersistError } from './errors.ts';

const PAGE = 4096;
const WHERE = 'section "MEM "';

export function encodeMemory(ram: Uint8Array): Uint8Array {
  const pages = Math.ceil(ram.length / PAGE);
  const head = Buffer.alloc(12 + Math.ceil(pages / 8));
  head.writeBigUInt64LE(BigInt(ram.length), 0);
  head.writeUInt32LE(PAGE, 8);
  // 8 bytes at a time: RAM is 4 KiB-aligned in host memory.
  const words = new BigUint64Array(ram.buffer, ram.byteOffset, Math.floor(ram.length / 8));
  const stored: Uint8Array[] = [];
  for (let p = 0; p < pages; p++) {
    let nonzero = false;
    for (let w = p * 512, end = Math.min(w + 512, words.length); w < end; w++) {
      if (words[w] !== 0n) {
        nonzero = true;
        break;
      }
    }
    if (!nonzero) continue;
    head[12 + (p >> 3)]! |= 1 << (p & 7);
    stored.push(ram.subarray(p * PAGE, Math.min((p + 1) * PAGE, ram.length)));
  }
  const data = deflateRawSync(Buffer.concat(stored), { level: 1 });
  return Buffer.concat([head, data]);
}

/**
 * Where a restore puts RAM: a run of host memory (every page written, zero
 * pages too), or a writer of the stored pages at their offsets (an
 * overcommit partition's demand-allocated RAM: the pages left out are still
 * unpopulated, and read as zeros).
 */
export type RamTarget = Uint8Array | ((offset: number, page: Uint8Array) => void);

/** Checks a MEM payload against a RAM of `ramSize` bytes and returns a function that loads it (nothing is written before). */
export function decodeMemory(payload: Uint8Array, ramSize: number): (ram: RamTarget) => void {
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  if (b.length < 12) throw new PersistError(WHERE, 'truncated');
  const size = Number(b.readBigUInt64LE(0));
  if (size !== ramSize) throw new PersistError(WHERE, `holds ${size} bytes of RAM, the partition has ${ramSize}`);
  if (b.readUInt32LE(8) !== PAGE) throw new PersistError(WHERE, `page size ${b.readUInt32LE(8)}, expected ${PAGE}`);
  const pages = Math.ceil(size / PAGE);
  const bitmap = b.subarray(12, 12 + Math.ceil(pages / 8));
  if (bitmap.length < Math.ceil(pages / 8)) throw new PersistError(WHERE, 'truncated bitmap');
  let storedBytes = 0;
  for (let p = 0; p < pages; p++) if (bitmap[p >> 3]! & (1 << (p & 7))) storedBytes += Math.min(PAGE, size - p * PAGE);
  let data: Buffer;
  try {
    data = inflateRawSync(b.subarray(12 + bitmap.length), { maxOutputLength: Math.max(1, storedBytes) });
  } catch (e) {
    throw new PersistError(WHERE, `page data does not inflate: ${(e as Error).message}`, { cause: e });
  }
  if (data.length !== storedBytes) throw new PersistError(WHERE, `page data is ${data.length} bytes, the bitmap names ${storedBytes}`);
  return (ram) => {
    let at = 0;
    for (let p = 0; p < pages; p++) {
      const start = p * PAGE;
      const end = Math.min(start + PAGE, size);
      if (bitmap[p >> 3]! & (1 << (p & 7))) {
        const page = data.subarray(at, at + end - start);
        if (typeof ram === 'function') ram(start, page);
        else ram.set(page, start);
        at += end - start;
      } else if (typeof ram !== 'function') {
        ram.fill(0, start, end);
      }
    }
  };
}
