// Interoperability with QEMU's vpc driver (Debian qemu-utils): images QEMU
// makes and writes read back as QEMU reads them, and images we make and
// write are recognised by QEMU with our size and read back as we read them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BlockDevice } from '../../../drivers/block/device.ts';
import { createVhdFile, openVhd } from '../../../drivers/vhd/chain.ts';
import { checkVhdFile } from '../../../drivers/vhd/check.ts';
import { chsForSectors, chsSectors } from '../../../drivers/vhd/geometry.ts';
import { filled, firstDifference, pattern, qemuAvailable, qemuImg, qemuIo, readAll, readAt, tempDir } from './helpers.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
/** Beyond what CHS can describe (65535 x 16 x 255 sectors is ~127.5 GiB). */
const HUGE = 130 * GiB;

const dir = tempDir('vhd-interop-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (ext = 'vhd'): string => path.join(dir, `img${n++}.${ext}`);

function qemuSize(file: string): number {
  const info = JSON.parse(qemuImg('info', '--output=json', '-f', 'vpc', file)) as { format: string; 'virtual-size': number };
  expect(info.format).toBe('vpc');
  return info['virtual-size'];
}

function qemuRaw(file: string): string {
  const raw = fresh('raw');
  qemuImg('convert', '-f', 'vpc', '-O', 'raw', file, raw);
  return raw;
}

function rawAt(file: string, offset: number, length: number): Uint8Array {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = new Uint8Array(length);
    fs.readSync(fd, buf, 0, length, offset);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

/** Compares our view with QEMU's raw conversion: all of it when small, sampled regions when huge. */
function expectSameAsQemu(dev: BlockDevice, raw: string, regions: [number, number][]): void {
  expect(fs.statSync(raw).size).toBe(dev.size);
  if (dev.size <= 64 * MiB) {
    expect(firstDifference(readAll(dev), new Uint8Array(fs.readFileSync(raw)))).toBe(-1);
    return;
  }
  for (const [off, len] of regions) {
    expect(firstDifference(readAt(dev, off, len), rawAt(raw, off, len)), `region at ${off}`).toBe(-1);
  }
}

function writeRegions(size: number): [number, number][] {
  return [
    [0, 64 * KiB],
    [MiB + 512, 3 * KiB],
    [Math.floor(size / 2 / 4096) * 4096 - 2048, 8 * KiB],
    [size - 4 * KiB, 4 * KiB],
  ];
}

const qemuCases: { subformat: 'dynamic' | 'fixed'; size: number; force: boolean }[] = [];
for (const force of [false, true]) {
  for (const size of [4 * MiB, 10 * MiB + 1536, 33 * MiB + 512]) {
    qemuCases.push({ subformat: 'dynamic', size, force });
    qemuCases.push({ subformat: 'fixed', size, force });
  }
  qemuCases.push({ subformat: 'dynamic', size: 1 * GiB, force });
  qemuCases.push({ subformat: 'dynamic', size: HUGE, force });
}

describe.skipIf(!qemuAvailable)('VHD images made by qemu-img', () => {
  it.each(qemuCases)('$subformat, $size bytes, force_size=$force: reads back as qemu-img convert gives', ({ subformat, size, force }) => {
    const file = fresh();
    qemuImg('create', '-q', '-f', 'vpc', '-o', `subformat=${subformat},force_size=${force ? 'on' : 'off'}`, file, String(size));
    const vsize = qemuSize(file);
    const regions = writeRegions(vsize);
    qemuIo(file, ...regions.map(([off, len], i) => `write -P 0x${(0x31 + i).toString(16)} ${off} ${len}`));
    const raw = qemuRaw(file);
    const dev = openVhd(file, { readOnly: true });
    try {
      expect(dev.size).toBe(vsize);
      if (force || vsize === size) expect(dev.size).toBe(size);
      expectSameAsQemu(dev, raw, regions);
    } finally {
      dev.close();
    }
    expect(checkVhdFile(file).errors).toEqual([]);
  });

  it.each([4 * MiB, 10 * MiB + 1536, 1 * GiB, 100 * GiB])('%i bytes without force_size: qemu-img picks the CHS geometry the spec gives', (size) => {
    const file = fresh();
    qemuImg('create', '-q', '-f', 'vpc', file, String(size));
    const dev = openVhd(file, { readOnly: true });
    try {
      expect(dev.footer.geometry).toEqual(chsForSectors(dev.size / 512));
      expect(chsSectors(dev.footer.geometry) * 512).toBe(dev.size);
    } finally {
      dev.close();
    }
  });

  it('accepts our writes into a disk qemu-img made, and qemu reads them back', () => {
    const file = fresh();
    qemuImg('create', '-q', '-f', 'vpc', file, String(20 * MiB));
    qemuIo(file, 'write -P 0x5a 0 1M');
    const dev = openVhd(file);
    dev.write(512 * KiB, pattern(1 * MiB, 1)); // half over qemu's block, half into a new one
    dev.write(dev.size - 8 * KiB, pattern(8 * KiB, 2));
    dev.close();
    const raw = qemuRaw(file);
    const again = openVhd(file, { readOnly: true });
    try {
      expectSameAsQemu(again, raw, []);
      expect(firstDifference(readAt(again, 0, 512 * KiB), filled(512 * KiB, 0x5a))).toBe(-1);
    } finally {
      again.close();
    }
  });
});

const ourCases: { type: 'dynamic' | 'fixed'; size: number; blockSize?: number }[] = [
  { type: 'dynamic', size: 4 * MiB },
  { type: 'dynamic', size: 10 * MiB + 1536 },
  { type: 'dynamic', size: 33 * MiB + 512, blockSize: 512 * KiB },
  { type: 'dynamic', size: 7 * MiB + 512, blockSize: 4 * KiB },
  { type: 'dynamic', size: HUGE },
  { type: 'fixed', size: 4 * MiB },
  { type: 'fixed', size: 10 * MiB + 1536 },
];

describe.skipIf(!qemuAvailable)('VHD images we make', () => {
  it.each(ourCases)('$type, $size bytes, block size $blockSize: qemu-img sees our size and our data', ({ type, size, blockSize }) => {
    const file = fresh();
    createVhdFile(file, { type, size, blockSize });
    const regions = writeRegions(size);
    const dev = openVhd(file);
    regions.forEach(([off, len], i) => dev.write(off, pattern(len, 100 + i)));
    dev.close();
    expect(qemuSize(file)).toBe(size);
    const raw = qemuRaw(file);
    const again = openVhd(file, { readOnly: true });
    try {
      expectSameAsQemu(again, raw, regions);
    } finally {
      again.close();
    }
  });

  it('stay consistent when qemu-io writes into them', () => {
    const file = fresh();
    createVhdFile(file, { type: 'dynamic', size: 12 * MiB });
    const dev = openVhd(file);
    dev.write(0, pattern(64 * KiB, 3));
    dev.close();
    qemuIo(file, 'write -P 0x77 4M 64k', 'write -P 0x78 32k 4k');
    expect(checkVhdFile(file).errors).toEqual([]);
    const raw = qemuRaw(file);
    const again = openVhd(file, { readOnly: true });
    try {
      expectSameAsQemu(again, raw, []);
      expect(firstDifference(readAt(again, 4 * MiB, 64 * KiB), filled(64 * KiB, 0x77))).toBe(-1);
    } finally {
      again.close();
    }
  });
});
