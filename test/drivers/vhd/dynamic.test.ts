import { describe, expect, it } from 'vitest';
import { BlockError } from '../../../drivers/block/device.ts';
import { MemoryFile } from '../../../drivers/block/file.ts';
import { createDifferencingVhd, createVhd } from '../../../drivers/vhd/create.ts';
import { DynamicVhd } from '../../../drivers/vhd/dynamic.ts';
import { openVhdFile } from '../../../drivers/vhd/open.ts';
import { firstDifference, pattern, readAll, readAt } from './helpers.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

function dynamicDisk(size: number, blockSize = 64 * KiB): { file: MemoryFile; disk: DynamicVhd } {
  const file = new MemoryFile();
  createVhd(file, { size, type: 'dynamic', blockSize });
  return { file, disk: openVhdFile(file) as DynamicVhd };
}

function reopen(file: MemoryFile, parent?: DynamicVhd | null): DynamicVhd {
  return openVhdFile(new MemoryFile(file.contents()), { parent }) as DynamicVhd;
}

describe('dynamic VHD', () => {
  it('reads zeros before anything is written, with a tiny file', () => {
    const { file, disk } = dynamicDisk(3 * MiB);
    expect(disk.size).toBe(3 * MiB);
    expect(disk.type).toBe('dynamic');
    expect(readAll(disk).every((b) => b === 0)).toBe(true);
    expect(file.size()).toBeLessThan(8 * KiB);
  });

  it('reads back writes that straddle block boundaries, before and after reopening', () => {
    const { file, disk } = dynamicDisk(1 * MiB, 4 * KiB);
    const data = pattern(20 * KiB, 1);
    disk.write(3 * KiB, data);
    expect(firstDifference(readAt(disk, 3 * KiB, data.length), data)).toBe(-1);
    disk.close();
    const again = reopen(file);
    expect(firstDifference(readAt(again, 3 * KiB, data.length), data)).toBe(-1);
    expect(readAt(again, 0, 3 * KiB).every((b) => b === 0)).toBe(true);
    expect(readAt(again, 23 * KiB, 4 * KiB).every((b) => b === 0)).toBe(true);
  });

  it('allocates a block only once and grows the file by one block a block', () => {
    const { file, disk } = dynamicDisk(1 * MiB, 64 * KiB);
    const before = file.size();
    disk.write(0, pattern(512, 2));
    disk.write(4096, pattern(512, 3));
    disk.flush();
    expect(file.size()).toBe(before + 512 + 64 * KiB);
    disk.write(64 * KiB, pattern(512, 4));
    disk.flush();
    expect(file.size()).toBe(before + 2 * (512 + 64 * KiB));
  });

  it('handles a size that is not a multiple of the block size, up to the last sector', () => {
    const size = 1 * MiB + 3 * 512;
    const { file, disk } = dynamicDisk(size, 64 * KiB);
    const last = pattern(512, 5);
    disk.write(size - 512, last);
    disk.close();
    const again = reopen(file);
    expect(again.size).toBe(size);
    expect(firstDifference(readAt(again, size - 512, 512), last)).toBe(-1);
  });

  it('keeps a copy of the footer at offset 0 identical to the trailing one', () => {
    const { file, disk } = dynamicDisk(1 * MiB, 4 * KiB);
    disk.write(8 * KiB, pattern(8 * KiB, 6));
    disk.close();
    const bytes = file.contents();
    expect(firstDifference(bytes.subarray(0, 512), bytes.subarray(bytes.length - 512))).toBe(-1);
  });

  it('honours the sector bitmap on read: clear bits read as zeros whatever the data area holds', () => {
    const { file, disk } = dynamicDisk(1 * MiB, 4 * KiB);
    disk.write(0, pattern(4 * KiB, 7));
    disk.close();
    const bytes = file.contents();
    const blockAt = disk.blockOffset(0)!;
    bytes[blockAt] = 0b1010_0000; // only sectors 0 and 2 are "in the block"
    const again = openVhdFile(new MemoryFile(bytes));
    const got = readAt(again, 0, 4 * KiB);
    const want = pattern(4 * KiB, 7);
    want.fill(0, 512, 1024);
    want.fill(0, 1536);
    expect(firstDifference(got, want)).toBe(-1);
  });

  it('rejects unaligned, out-of-range and read-only writes with BlockError', () => {
    const { file, disk } = dynamicDisk(1 * MiB);
    expect(() => disk.write(100, new Uint8Array(512))).toThrow(BlockError);
    expect(() => disk.write(1 * MiB, new Uint8Array(512))).toThrow(BlockError);
    disk.close();
    const ro = openVhdFile(new MemoryFile(file.contents()), { readOnly: true });
    expect(() => ro.write(0, new Uint8Array(512))).toThrow(/read-only/);
  });
});

describe('fixed VHD', () => {
  it('stores the disk bytes in place followed by the footer', () => {
    const file = new MemoryFile();
    createVhd(file, { size: 1 * MiB + 512, type: 'fixed' });
    expect(file.size()).toBe(1 * MiB + 1024);
    const disk = openVhdFile(file);
    expect(disk.type).toBe('fixed');
    const data = pattern(4 * KiB, 8);
    disk.write(512, data);
    disk.flush();
    expect(firstDifference(file.contents().subarray(512, 512 + data.length), data)).toBe(-1);
    expect(firstDifference(readAt(openVhdFile(new MemoryFile(file.contents())), 512, data.length), data)).toBe(-1);
  });
});

describe('differencing VHD', () => {
  function chain(): { parentFile: MemoryFile; parent: DynamicVhd; childFile: MemoryFile; child: DynamicVhd } {
    const { file: parentFile, disk: parent } = dynamicDisk(1 * MiB, 4 * KiB);
    parent.write(0, pattern(64 * KiB, 9));
    parent.flush();
    const childFile = new MemoryFile();
    createDifferencingVhd(
      childFile,
      { size: parent.size, uniqueId: parent.footer.uniqueId, timestamp: parent.footer.timestamp, name: 'parent.vhd', locators: [] },
      { blockSize: 4 * KiB },
    );
    const child = openVhdFile(childFile, { parent }) as DynamicVhd;
    return { parentFile, parent, childFile, child };
  }

  it('reads what the parent holds until the child writes, sector by sector', () => {
    const { parent, child } = chain();
    expect(child.type).toBe('differencing');
    expect(firstDifference(readAll(child), readAll(parent))).toBe(-1);
    const mine = pattern(512, 10);
    child.write(1024, mine);
    const want = readAt(parent, 0, 4 * KiB);
    want.set(mine, 1024);
    expect(firstDifference(readAt(child, 0, 4 * KiB), want)).toBe(-1);
  });

  it('never writes to the parent', () => {
    const { parentFile, child } = chain();
    const before = parentFile.contents();
    child.write(0, pattern(128 * KiB, 11));
    child.flush();
    expect(firstDifference(parentFile.contents(), before)).toBe(-1);
  });

  it('lists the extents it owns at sector granularity', () => {
    const { child } = chain();
    child.write(1024, pattern(1024, 12));
    child.write(4096 - 512, pattern(1024, 13));
    child.write(512 * KiB, pattern(512, 14));
    expect(child.ownedExtents()).toEqual([
      { start: 1024, length: 1024 },
      { start: 4096 - 512, length: 1024 },
      { start: 512 * KiB, length: 512 },
    ]);
  });

  it('keeps its sector bitmaps across a reopen', () => {
    const { parent, childFile, child } = chain();
    child.write(1024, pattern(512, 15));
    child.close();
    const again = reopen(childFile, parent);
    const want = readAt(parent, 0, 4 * KiB);
    want.set(pattern(512, 15), 1024);
    expect(firstDifference(readAt(again, 0, 4 * KiB), want)).toBe(-1);
  });
});
