// `hv vhd` subcommands, called in-process.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InputError, UsageError } from '../../../runtime/cli/errors.ts';
import { parseSize, vhdCommand } from '../../../runtime/cli/vhd.ts';
import { openVhd } from '../../../drivers/vhd/chain.ts';
import { DynamicVhd } from '../../../drivers/vhd/dynamic.ts';
import { filled, firstDifference, pattern, qemuAvailable, qemuImg, readAll, readAt, tempDir } from './helpers.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

const dir = tempDir('vhd-cli-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (ext = 'vhd'): string => path.join(dir, `f${n++}.${ext}`);

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
});
afterEach(() => vi.restoreAllMocks());

const hv = (...args: string[]) => vhdCommand(args);

function write(file: string, at: number, data: Uint8Array): void {
  const d = openVhd(file);
  d.write(at, data);
  d.close();
}

function contents(file: string): Uint8Array {
  const d = openVhd(file, { readOnly: true });
  try {
    return readAll(d);
  } finally {
    d.close();
  }
}

describe('hv vhd create', () => {
  it('makes a dynamic disk by default with the exact size asked for', async () => {
    const f = fresh();
    expect(await hv('create', f, '10M')).toBe(0);
    expect(out).toContain(`Formatting '${f}'`);
    const d = openVhd(f, { readOnly: true });
    expect([d.type, d.size]).toEqual(['dynamic', 10 * MiB]);
    d.close();
  });

  it('honours subformat and block_size in -o', async () => {
    const f = fresh();
    expect(await hv('create', '-q', '-o', 'subformat=dynamic,block_size=512k', f, '3M')).toBe(0);
    const d = openVhd(f, { readOnly: true }) as DynamicVhd;
    expect(d.blockSize).toBe(512 * KiB);
    d.close();
    const g = fresh();
    expect(await hv('create', '-q', '-o', 'subformat=fixed', g, '1000')).toBe(0);
    expect(fs.statSync(g).size).toBe(1024 + 512);
  });

  it('makes a differencing disk over -b PARENT with the parent size', async () => {
    const parent = fresh();
    await hv('create', '-q', parent, '2M');
    const child = fresh();
    expect(await hv('create', '-b', parent, child)).toBe(0);
    const d = openVhd(child, { readOnly: true });
    expect([d.type, d.size]).toEqual(['differencing', 2 * MiB]);
    d.close();
    await expect(hv('create', '-b', parent, fresh(), '3M')).rejects.toThrow(UsageError);
  });

  it('rejects bad sizes, options and arguments as usage errors', async () => {
    await expect(hv('create', fresh(), 'ten')).rejects.toThrow(UsageError);
    await expect(hv('create', '-o', 'subformat=sparse', fresh(), '1M')).rejects.toThrow(UsageError);
    await expect(hv('create', '-o', 'block_size=3000', fresh(), '1M')).rejects.toThrow(UsageError);
    await expect(hv('create', '-o', 'cluster_size=64k', fresh(), '1M')).rejects.toThrow(UsageError);
    await expect(hv('create', fresh())).rejects.toThrow(UsageError);
    await expect(hv('frobnicate')).rejects.toThrow(UsageError);
  });

  it('parses sizes as qemu-img does', () => {
    expect(parseSize('512')).toBe(512);
    expect(parseSize('1000')).toBe(1024);
    expect(parseSize('1.5k')).toBe(1536);
    expect(parseSize('10M')).toBe(10 * MiB);
    expect(parseSize('2G')).toBe(2 * 1024 * MiB);
  });
});

describe('hv vhd info', () => {
  it('prints qemu-img style text and JSON', async () => {
    const f = fresh();
    await hv('create', '-q', f, '4M');
    await hv('info', f);
    expect(out).toContain('file format: vpc');
    expect(out).toContain('virtual size: 4 MiB (4194304 bytes)');
    out = '';
    await hv('info', '--output=json', f);
    const j = JSON.parse(out);
    expect(j).toMatchObject({ format: 'vpc', 'virtual-size': 4 * MiB, 'cluster-size': 2 * MiB });
  });

  it('describes raw files too, and fails on missing files with an input error', async () => {
    const raw = fresh('raw');
    fs.writeFileSync(raw, new Uint8Array(8192));
    await hv('info', '--output=json', raw);
    expect(JSON.parse(out)).toMatchObject({ format: 'raw', 'virtual-size': 8192 });
    await expect(hv('info', path.join(dir, 'nope.vhd'))).rejects.toThrow(InputError);
  });
});

describe('hv vhd check', () => {
  it('exits 0 on a clean disk', async () => {
    const f = fresh();
    await hv('create', '-q', f, '1M');
    expect(await hv('check', f)).toBe(0);
    expect(out).toContain('No errors were found on the image.');
  });

  it('exits 3 on leaked space at the end, and -r trims it', async () => {
    const f = fresh();
    await hv('create', '-q', '-o', 'block_size=4k', f, '1M');
    write(f, 0, pattern(8 * KiB, 1));
    const bytes = fs.readFileSync(f);
    const footer = bytes.subarray(bytes.length - 512);
    fs.writeFileSync(f, Buffer.concat([bytes.subarray(0, bytes.length - 512), Buffer.alloc(8192), footer]));
    expect(await hv('check', f)).toBe(3);
    expect(out).toContain('8192 leaked bytes');
    expect(await hv('check', '-r', 'leaks', f)).toBe(0);
    expect(fs.statSync(f).size).toBe(bytes.length);
    expect(readAt(openVhd(f, { readOnly: true }), 0, 8 * KiB)).toEqual(pattern(8 * KiB, 1));
  });

  it('exits 2 on corruption and reports it in JSON', async () => {
    const f = fresh();
    await hv('create', '-q', '-o', 'block_size=4k', f, '1M');
    write(f, 0, pattern(8 * KiB, 2));
    const bytes = fs.readFileSync(f);
    bytes.writeUInt32BE(bytes.readUInt32BE(1536), 1536 + 4 * 9); // block 9 shares block 0's space
    fs.writeFileSync(f, bytes);
    expect(await hv('check', '--output=json', f)).toBe(2);
    expect(JSON.parse(out).errors[0].code).toBe('bat-overlap');
  });

  it('treats a file that is not a VHD as bad input', async () => {
    const raw = fresh('raw');
    fs.writeFileSync(raw, new Uint8Array(4096));
    await expect(hv('check', raw)).rejects.toThrow(InputError);
  });
});

describe('hv vhd convert', () => {
  it('round-trips raw -> dynamic VHD -> raw, leaving zero blocks unallocated', async () => {
    const raw = fresh('raw');
    const img = new Uint8Array(6 * MiB);
    img.set(pattern(3000 * 512, 3).subarray(0, 100 * KiB), 5 * MiB);
    img.set(filled(4096, 9), 0);
    fs.writeFileSync(raw, img);
    const vhd = fresh();
    expect(await hv('convert', '-O', 'vpc', '-o', 'block_size=1M', raw, vhd)).toBe(0);
    const d = openVhd(vhd, { readOnly: true }) as DynamicVhd;
    expect(d.size).toBe(6 * MiB);
    expect(d.ownedExtents().map((e) => e.start)).toEqual([0, 5 * MiB]);
    d.close();
    const back = fresh('raw');
    expect(await hv('convert', vhd, back)).toBe(0);
    expect(firstDifference(new Uint8Array(fs.readFileSync(back)), img)).toBe(-1);
  });

  it('flattens a differencing chain into a fixed disk', async () => {
    const base = fresh();
    await hv('create', '-q', '-o', 'block_size=64k', base, '1M');
    write(base, 0, pattern(256 * KiB, 4));
    const child = fresh();
    await hv('create', '-q', '-b', base, child);
    write(child, 4 * KiB, pattern(4 * KiB, 5));
    const fixed = fresh();
    expect(await hv('convert', '-O', 'vhd', '-o', 'subformat=fixed', child, fixed)).toBe(0);
    expect(firstDifference(contents(fixed), contents(child))).toBe(-1);
    expect(openVhd(fixed, { readOnly: true }).type).toBe('fixed');
  });

  it('draws a progress bar with -p', async () => {
    const raw = fresh('raw');
    fs.writeFileSync(raw, pattern(2 * MiB, 6));
    await hv('convert', '-p', '-O', 'vpc', raw, fresh());
    expect(err).toMatch(/Converting \[#+\] 100\.0%/);
  });

  it.skipIf(!qemuAvailable)('writes VHDs qemu-img reads as we do', async () => {
    const raw = fresh('raw');
    fs.writeFileSync(raw, pattern(3 * MiB + 512, 7));
    const vhd = fresh();
    await hv('convert', '-O', 'vpc', raw, vhd);
    const back = fresh('raw');
    qemuImg('convert', '-f', 'vpc', '-O', 'raw', vhd, back);
    expect(firstDifference(new Uint8Array(fs.readFileSync(back)), new Uint8Array(fs.readFileSync(raw)))).toBe(-1);
  });
});

describe('hv vhd commit, changed and compact', () => {
  async function chain(): Promise<{ base: string; child: string }> {
    const base = fresh();
    await hv('create', '-q', '-o', 'block_size=64k', base, '1M');
    write(base, 0, pattern(1 * MiB, 8));
    const child = fresh();
    await hv('create', '-q', '-b', base, child);
    write(child, 70 * KiB, pattern(3 * KiB, 9));
    write(child, 512 * KiB, pattern(512, 10));
    return { base, child };
  }

  it('changed lists the byte ranges the child holds', async () => {
    const { child } = await chain();
    await hv('changed', child);
    expect(out).toBe(`${70 * KiB} ${3 * KiB}\n${512 * KiB} 512\n`);
    out = '';
    await hv('changed', '--output=json', child);
    expect(JSON.parse(out)).toEqual([
      { start: 70 * KiB, length: 3 * KiB },
      { start: 512 * KiB, length: 512 },
    ]);
  });

  it('commit merges the child into its parent and empties the child', async () => {
    const { base, child } = await chain();
    const view = contents(child);
    expect(await hv('commit', child)).toBe(0);
    expect(out).toContain('Image committed.');
    expect(firstDifference(contents(base), view)).toBe(-1);
    expect(firstDifference(contents(child), view)).toBe(-1);
    out = '';
    await hv('changed', child);
    expect(out).toBe('');
    expect(await hv('check', child)).toBe(0);
  });

  it('commit -d leaves the child as it was', async () => {
    const { child } = await chain();
    expect(await hv('commit', '-q', '-d', child)).toBe(0);
    await hv('changed', child);
    expect(out.trim().split('\n')).toHaveLength(2);
  });

  it('commit refuses a disk that has no parent', async () => {
    const f = fresh();
    await hv('create', '-q', f, '1M');
    await expect(hv('commit', f)).rejects.toThrow(InputError);
  });

  it('compact drops empty and zeroed blocks and keeps children working', async () => {
    const { base, child } = await chain();
    write(base, 0, new Uint8Array(512 * KiB)); // zero the first 8 blocks
    const before = fs.statSync(base).size;
    const view = contents(child);
    expect(await hv('compact', base)).toBe(0);
    expect(fs.statSync(base).size).toBeLessThan(before - 7 * 64 * KiB);
    expect(firstDifference(contents(child), view)).toBe(-1);
    expect(await hv('check', base)).toBe(0);
    expect(await hv('compact', '-q', child)).toBe(0);
    expect(firstDifference(contents(child), view)).toBe(-1);
  });
});
