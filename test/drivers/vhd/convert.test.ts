import { describe, expect, it } from 'vitest';
import { MemoryFile } from '../../../drivers/block/file.ts';
import { RawDevice } from '../../../drivers/block/raw.ts';
import { copyDisk } from '../../../drivers/vhd/convert.ts';
import { createVhd } from '../../../drivers/vhd/create.ts';
import type { DynamicVhd } from '../../../drivers/vhd/dynamic.ts';
import { openVhdFile } from '../../../drivers/vhd/open.ts';
import { firstDifference, pattern, readAll } from './helpers.ts';

const KiB = 1024;

describe('copyDisk', () => {
  it('copies every non-zero grain, including a short last chunk, and skips zero grains', () => {
    const size = 200 * KiB + 512;
    const img = new Uint8Array(size);
    img.set(pattern(512, 1), 0);
    img.set(pattern(3 * KiB, 2), 100 * KiB);
    img.set(pattern(512, 3), size - 512);
    const src = new RawDevice(new MemoryFile(img));
    const file = new MemoryFile();
    createVhd(file, { size, type: 'dynamic', blockSize: 16 * KiB });
    const dst = openVhdFile(file) as DynamicVhd;
    const r = copyDisk(src, dst, { grain: 16 * KiB, chunk: 64 * KiB });
    expect(firstDifference(readAll(dst), img)).toBe(-1);
    expect(r.written).toBe(2 * 16 * KiB + 8 * KiB + 512);
    const allocated = Array.from({ length: dst.blockCount }, (_, i) => dst.blockOffset(i) !== null).filter(Boolean).length;
    expect(allocated).toBe(3);
  });

  it('reports progress up to the total', () => {
    const src = new RawDevice(new MemoryFile(pattern(64 * KiB, 4)));
    const dst = new RawDevice(new MemoryFile(new Uint8Array(64 * KiB)));
    const seen: number[] = [];
    copyDisk(src, dst, { chunk: 16 * KiB, grain: 4 * KiB, onProgress: (d) => seen.push(d) });
    expect(seen[0]).toBe(0);
    expect(seen[seen.length - 1]).toBe(64 * KiB);
  });
});
