// Guest RAM in PAGE frames: which pages a round sends, and writing what
// arrives into the target's RAM (every index checked against its size).
import { MigrationError } from './errors.ts';
import { PAGE_SIZE, PAGES_PER_FRAME } from './wire.ts';

/** Indices of the pages of `ram` that are not all zero (round 0: a fresh target's RAM is zero). */
export function nonZeroPages(ram: Uint8Array): number[] {
  const words = new BigUint64Array(ram.buffer, ram.byteOffset, ram.length >> 3);
  const out: number[] = [];
  for (let p = 0, pages = ram.length / PAGE_SIZE; p < pages; p++) {
    for (let w = p * 512, end = w + 512; w < end; w++) {
      if (words[w] !== 0n) {
        out.push(p);
        break;
      }
    }
  }
  return out;
}

/** Indices of the set bits of a dirty bitmap (kernel/mm/dirty.ts: bit p & 31 of u32 word p >> 5). */
export function bitmapPages(words: Uint32Array, pages: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < words.length; i++) {
    let w = words[i]!;
    while (w) {
      const b = 31 - Math.clz32(w & -w);
      const p = i * 32 + b;
      if (p < pages) out.push(p);
      w &= w - 1;
    }
  }
  return out;
}

/** PAGE frame payloads holding `pages` of `ram`, copied now (the guest may write them right after). */
export function* pagePayloads(ram: Uint8Array, pages: readonly number[]): Generator<Buffer> {
  for (let i = 0; i < pages.length; i += PAGES_PER_FRAME) {
    const batch = pages.slice(i, i + PAGES_PER_FRAME);
    const out = Buffer.allocUnsafe(4 + batch.length * (4 + PAGE_SIZE));
    out.writeUInt32LE(batch.length, 0);
    let at = 4;
    for (const p of batch) {
      out.writeUInt32LE(p, at);
      out.set(ram.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE), at + 4);
      at += 4 + PAGE_SIZE;
    }
    yield out;
  }
}

/** Writes a PAGE payload into `ram`; returns the pages it held. Checks every index before it writes any. */
export function applyPages(payload: Buffer, ram: Uint8Array): number {
  if (payload.length < 4) throw new MigrationError('pre-copy', 'PAGE frame truncated');
  const n = payload.readUInt32LE(0);
  if (payload.length !== 4 + n * (4 + PAGE_SIZE)) throw new MigrationError('pre-copy', `PAGE frame of ${payload.length} bytes does not hold ${n} pages`);
  const pages = ram.length / PAGE_SIZE;
  for (let i = 0, at = 4; i < n; i++, at += 4 + PAGE_SIZE) {
    const p = payload.readUInt32LE(at);
    if (p >= pages) throw new MigrationError('pre-copy', `page ${p} is outside the partition's ${pages} pages`);
  }
  for (let i = 0, at = 4; i < n; i++, at += 4 + PAGE_SIZE) {
    const p = payload.readUInt32LE(at);
    ram.set(payload.subarray(at + 4, at + 4 + PAGE_SIZE), p * PAGE_SIZE);
  }
  return n;
}
