// Differencing chains on real files: locator resolution and multi-level reads.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeFile } from '../../../drivers/block/file.ts';
import { encodeUtf16 } from '../../../drivers/vhd/bytes.ts';
import { createDifferencingFile, createVhdFile, openImage, openVhd } from '../../../drivers/vhd/chain.ts';
import { createDifferencingVhd } from '../../../drivers/vhd/create.ts';
import { PLATFORM } from '../../../drivers/vhd/header.ts';
import { relativeLocator } from '../../../drivers/vhd/locator.ts';
import { firstDifference, pattern, readAll, readAt, tempDir } from './helpers.ts';

const KiB = 1024;
const root = tempDir('vhd-chain-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const newDir = (): string => {
  const d = path.join(root, `d${n++}`);
  fs.mkdirSync(d);
  return d;
};

function put(file: string, at: number, data: Uint8Array): void {
  const d = openVhd(file);
  d.write(at, data);
  d.close();
}

function view(file: string): Uint8Array {
  const d = openVhd(file, { readOnly: true });
  try {
    return readAll(d);
  } finally {
    d.close();
  }
}

/** base (dynamic) <- mid <- top, each writing its own 4 KiB at 0, 4K, 8K. */
function threeLevels(dir: string): { base: string; mid: string; top: string } {
  const base = path.join(dir, 'base.vhd');
  const mid = path.join(dir, 'mid.vhd');
  const top = path.join(dir, 'top.vhd');
  createVhdFile(base, { size: 256 * KiB, type: 'dynamic', blockSize: 64 * KiB });
  put(base, 0, pattern(12 * KiB, 1));
  createDifferencingFile(mid, base);
  put(mid, 4 * KiB, pattern(8 * KiB, 2));
  createDifferencingFile(top, mid);
  put(top, 8 * KiB, pattern(4 * KiB, 3));
  return { base, mid, top };
}

function expected(): Uint8Array {
  const want = new Uint8Array(256 * KiB);
  want.set(pattern(12 * KiB, 1), 0);
  want.set(pattern(8 * KiB, 2), 4 * KiB);
  want.set(pattern(4 * KiB, 3), 8 * KiB);
  return want;
}

describe('parent chains', () => {
  it('read through three levels, each sector from the nearest disk that holds it', () => {
    const { base, mid, top } = threeLevels(newDir());
    expect(firstDifference(view(top), expected())).toBe(-1);
    expect(firstDifference(readAt(openVhd(mid, { readOnly: true }), 8 * KiB, 4 * KiB), pattern(8 * KiB, 2).subarray(4 * KiB))).toBe(-1);
    expect(firstDifference(readAt(openVhd(base, { readOnly: true }), 4 * KiB, 4 * KiB), pattern(12 * KiB, 1).subarray(4 * KiB, 8 * KiB))).toBe(-1);
  });

  it('never modify the parents when the child is written', () => {
    const { base, mid, top } = threeLevels(newDir());
    const before = [fs.readFileSync(base), fs.readFileSync(mid)];
    put(top, 0, pattern(200 * KiB, 4));
    expect(Buffer.compare(fs.readFileSync(base), before[0]!)).toBe(0);
    expect(Buffer.compare(fs.readFileSync(mid), before[1]!)).toBe(0);
  });

  it('are found through the relative locator when the whole directory moves', () => {
    const dir = newDir();
    threeLevels(dir);
    const moved = `${dir}-moved`;
    fs.renameSync(dir, moved);
    expect(firstDifference(view(path.join(moved, 'top.vhd')), expected())).toBe(-1);
  });

  it('are found through the absolute locator when only the child moves', () => {
    const dir = newDir();
    const { top } = threeLevels(dir);
    const elsewhere = path.join(newDir(), 'top.vhd');
    fs.renameSync(top, elsewhere);
    expect(firstDifference(view(elsewhere), expected())).toBe(-1);
  });

  it('write relative locators the Windows way, up and down the tree', () => {
    expect(relativeLocator('/x/y/child.vhd', '/x/y/parent.vhd')).toBe('.\\parent.vhd');
    expect(relativeLocator('/x/y/child.vhd', '/x/parent.vhd')).toBe('..\\parent.vhd');
    expect(relativeLocator('/x/child.vhd', '/x/y/z/parent.vhd')).toBe('.\\y\\z\\parent.vhd');
  });

  function handMade(dir: string, name: string, locators: { platformCode: number; data: Uint8Array }[], parentName: string): string {
    const base = path.join(dir, 'base.vhd');
    createVhdFile(base, { size: 64 * KiB, type: 'dynamic' });
    put(base, 0, pattern(4 * KiB, 5));
    const b = openVhd(base, { readOnly: true });
    const child = path.join(dir, name);
    const f = NodeFile.open(child, 'w+');
    createDifferencingVhd(f, { size: b.size, uniqueId: b.footer.uniqueId, timestamp: b.footer.timestamp, name: parentName, locators });
    f.close();
    b.close();
    return child;
  }

  it('fall back to the parent name when no locator is usable', () => {
    const dir = newDir();
    const child = handMade(dir, 'c.vhd', [{ platformCode: PLATFORM.W2ku, data: encodeUtf16('C:\\vms\\base.vhd', false) }], path.join(dir, 'base.vhd'));
    expect(readAt(openVhd(child, { readOnly: true }), 0, 4 * KiB)).toEqual(pattern(4 * KiB, 5));
  });

  it('accept Mac OS X file URL locators', () => {
    const dir = newDir();
    const url = `file://localhost${encodeURI(path.join(dir, 'base.vhd'))}`;
    const child = handMade(dir, 'm.vhd', [{ platformCode: PLATFORM.MacX, data: new TextEncoder().encode(url) }], 'nothere.vhd');
    expect(readAt(openVhd(child, { readOnly: true }), 0, 4 * KiB)).toEqual(pattern(4 * KiB, 5));
  });

  it('open through openImage like any other disk, as do raw images', () => {
    const { top } = threeLevels(newDir());
    const dev = openImage(top, { readOnly: true });
    expect(firstDifference(readAll(dev), expected())).toBe(-1);
    dev.close();
    const raw = path.join(newDir(), 'disk.raw');
    fs.writeFileSync(raw, pattern(8 * KiB, 6));
    const rdev = openImage(raw);
    expect(rdev.size).toBe(8 * KiB);
    rdev.write(512, pattern(512, 7));
    rdev.close();
    expect(new Uint8Array(fs.readFileSync(raw)).subarray(512, 1024)).toEqual(pattern(512, 7));
  });
});
