// Sector bitmaps: one bit a sector, most significant bit first; a set bit
// means the sector's data is in this block (else zero, or the parent's).

export function testBit(bitmap: Uint8Array, sector: number): boolean {
  return (bitmap[sector >>> 3]! & (0x80 >>> (sector & 7))) !== 0;
}

/** Sets bits [first, first+count); returns true if any was clear. */
export function setBits(bitmap: Uint8Array, first: number, count: number): boolean {
  let changed = false;
  let s = first;
  const end = first + count;
  while (s < end) {
    if ((s & 7) === 0 && end - s >= 8) {
      const i = s >>> 3;
      if (bitmap[i] !== 0xff) {
        bitmap[i] = 0xff;
        changed = true;
      }
      s += 8;
      continue;
    }
    const i = s >>> 3;
    const m = 0x80 >>> (s & 7);
    if ((bitmap[i]! & m) === 0) {
      bitmap[i] = bitmap[i]! | m;
      changed = true;
    }
    s++;
  }
  return changed;
}

/** Length of the run of equal bits starting at `first`, at most `max`. */
export function runLength(bitmap: Uint8Array, first: number, max: number): number {
  const want = testBit(bitmap, first);
  const full = want ? 0xff : 0;
  let s = first + 1;
  const end = first + max;
  while (s < end) {
    if ((s & 7) === 0 && end - s >= 8 && bitmap[s >>> 3] === full) {
      s += 8;
      continue;
    }
    if (testBit(bitmap, s) !== want) break;
    s++;
  }
  return s - first;
}

/** True when the first `sectors` bits are all set. */
export function allSet(bitmap: Uint8Array, sectors: number): boolean {
  return runLength(bitmap, 0, sectors) === sectors && testBit(bitmap, 0);
}

/** True when the first `sectors` bits are all clear. */
export function noneSet(bitmap: Uint8Array, sectors: number): boolean {
  return runLength(bitmap, 0, sectors) === sectors && !testBit(bitmap, 0);
}
