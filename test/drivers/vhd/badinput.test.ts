// Malformed images: each kind of damage gives a VhdError with a code that
// names it (and never a crash or a silently wrong read).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryFile } from '../../../drivers/block/file.ts';
import { checksum, view } from '../../../drivers/vhd/bytes.ts';
import { createDifferencingFile, createVhdFile, openVhd } from '../../../drivers/vhd/chain.ts';
import { checkVhd } from '../../../drivers/vhd/check.ts';
import { createDifferencingVhd, createVhd } from '../../../drivers/vhd/create.ts';
import { VhdError, type VhdErrorCode } from '../../../drivers/vhd/errors.ts';
import { encodeFooter, parseFooter } from '../../../drivers/vhd/footer.ts';
import { openVhdFile } from '../../../drivers/vhd/open.ts';
import { pattern, readAll, tempDir } from './helpers.ts';

const KiB = 1024;
const BAT_AT = 1536;

function vhdError(fn: () => unknown): VhdError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VhdError);
    return e as VhdError;
  }
  throw new Error('expected a VhdError, nothing was thrown');
}

function expectCode(code: VhdErrorCode, fn: () => unknown): VhdError {
  const e = vhdError(fn);
  expect(e.code, e.message).toBe(code);
  return e;
}

/** A dynamic disk (4 KiB blocks) with three blocks written. */
function dynamicImage(): Uint8Array {
  const f = new MemoryFile();
  createVhd(f, { size: 256 * KiB, type: 'dynamic', blockSize: 4 * KiB });
  const d = openVhdFile(f);
  d.write(0, pattern(12 * KiB, 1));
  d.close();
  return f.contents();
}

function fixedImage(): Uint8Array {
  const f = new MemoryFile();
  createVhd(f, { size: 64 * KiB, type: 'fixed' });
  return f.contents();
}

const open = (bytes: Uint8Array) => () => readAll(openVhdFile(new MemoryFile(bytes)));

function setBat(img: Uint8Array, index: number, sector: number): void {
  view(img).setUint32(BAT_AT + 4 * index, sector);
}

describe('truncated files', () => {
  it('a file shorter than a footer', () => {
    expectCode('truncated', open(new Uint8Array(100)));
  });

  it('a dynamic disk cut inside its last block', () => {
    const img = dynamicImage();
    expectCode('truncated', open(img.subarray(0, img.length - 512 - 1024)));
  });

  it('a dynamic disk cut inside its BAT', () => {
    expectCode('truncated', open(dynamicImage().subarray(0, BAT_AT + 100)));
  });

  it('a dynamic disk cut inside its header', () => {
    expectCode('truncated', open(dynamicImage().subarray(0, 1000)));
  });

  it('a fixed disk that lost its footer is no VHD at all', () => {
    const img = fixedImage();
    expectCode('not-vhd', open(img.subarray(0, img.length - 512)));
  });

  it('a fixed disk cut inside its data, footer kept', () => {
    const img = fixedImage();
    const cut = new Uint8Array(img.length - 4096);
    cut.set(img.subarray(img.length - 512), cut.length - 512);
    expectCode('truncated', open(cut));
  });
});

describe('bad checksums', () => {
  it('in the footer of a fixed disk', () => {
    const img = fixedImage();
    img[img.length - 512 + 48 + 7] ^= 0x02; // current size changes, checksum does not
    expect(expectCode('bad-checksum', open(img)).message).toMatch(/checksum/);
  });

  it('in the footer copy of a dynamic disk', () => {
    const img = dynamicImage();
    img[30] ^= 1;
    expectCode('bad-checksum', open(img));
  });

  it('in the dynamic header', () => {
    const img = dynamicImage();
    img[512 + 32] ^= 0x10; // block size
    expectCode('bad-checksum', open(img));
  });

  it('and check -r restores a damaged footer copy from the trailing footer', () => {
    const img = dynamicImage();
    img[30] ^= 1;
    const file = new MemoryFile(img);
    const report = checkVhd(file, { repair: 'all' });
    expect(report.repaired).toHaveLength(1);
    expect(report.errors).toEqual([]);
    expect(readAll(openVhdFile(file)).subarray(0, 12 * KiB)).toEqual(pattern(12 * KiB, 1));
  });
});

describe('a damaged trailing footer', () => {
  it('stops open, and check -r rewrites it from the copy at offset 0 without growing the file', () => {
    const img = dynamicImage();
    img[img.length - 512 + 30] ^= 1;
    expectCode('bad-checksum', open(img));
    const file = new MemoryFile(img);
    const report = checkVhd(file, { repair: 'all' });
    expect(report.errors).toEqual([]);
    expect(report.leakedBytes).toBe(0);
    expect(report.repaired.length).toBe(2);
    expect(file.size()).toBe(img.length);
    expect(readAll(openVhdFile(file)).subarray(0, 12 * KiB)).toEqual(pattern(12 * KiB, 1));
  });
});

describe('BAT damage', () => {
  it('an entry pointing past the end of the file', () => {
    const img = dynamicImage();
    setBat(img, 5, 0x00ff_0000);
    expectCode('bat-range', open(img));
  });

  it('an entry pointing into the footer copy', () => {
    const img = dynamicImage();
    setBat(img, 5, 0);
    expectCode('bat-overlap', open(img));
  });

  it('two entries sharing a block', () => {
    const img = dynamicImage();
    setBat(img, 7, view(img).getUint32(BAT_AT));
    expectCode('bat-overlap', open(img));
  });

  it('an entry overlapping its neighbour by a sector', () => {
    const img = dynamicImage();
    setBat(img, 1, view(img).getUint32(BAT_AT + 4) + 1);
    const e = vhdError(open(img));
    expect(['bat-overlap', 'bat-range']).toContain(e.code);
  });

  it('check lists every damaged entry instead of stopping at the first', () => {
    const img = dynamicImage();
    setBat(img, 5, 0x00ff_0000);
    setBat(img, 6, 0);
    const report = checkVhd(new MemoryFile(img));
    expect([...new Set(report.errors.map((e) => e.code))].sort()).toEqual(['bat-overlap', 'bat-range']);
    expect(report.errors.length).toBeGreaterThanOrEqual(2);
  });
});

describe('bad footer fields', () => {
  function refooter(img: Uint8Array, at: number, edit: (f: ReturnType<typeof parseFooter>) => void): void {
    const f = parseFooter(img.subarray(at, at + 512), 'test');
    edit(f);
    img.set(encodeFooter(f), at);
  }

  it('an unknown disk type', () => {
    const img = fixedImage();
    refooter(img, img.length - 512, (f) => (f.diskType = 7));
    expectCode('unsupported', open(img));
  });

  it('a zero size', () => {
    const img = fixedImage();
    refooter(img, img.length - 512, (f) => (f.currentSize = 0));
    expectCode('bad-footer', open(img));
  });

  it('a dynamic header offset outside the file', () => {
    const img = dynamicImage();
    refooter(img, 0, (f) => (f.dataOffset = 1 << 30));
    refooter(img, img.length - 512, (f) => (f.dataOffset = 1 << 30));
    expectCode('truncated', open(img));
  });

  it('a BAT too small for the disk', () => {
    const img = dynamicImage();
    view(img).setUint32(512 + 28, 3);
    view(img).setUint32(512 + 36, 0);
    view(img).setUint32(512 + 36, checksum(img.subarray(512, 1536), 36));
    expectCode('bad-header', open(img));
  });
});

describe('parent chains', () => {
  const dir = tempDir('vhd-bad-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const p = (name: string) => path.join(dir, name);

  it('a missing parent', () => {
    createVhdFile(p('gone.vhd'), { size: 64 * KiB, type: 'dynamic' });
    createDifferencingFile(p('orphan.vhd'), p('gone.vhd'));
    fs.rmSync(p('gone.vhd'));
    const e = expectCode('parent-missing', () => openVhd(p('orphan.vhd')));
    expect(e.message).toContain('gone.vhd');
  });

  it('a parent replaced by another disk (wrong unique id), with the mismatch as the cause', () => {
    createVhdFile(p('base.vhd'), { size: 64 * KiB, type: 'dynamic' });
    createDifferencingFile(p('kid.vhd'), p('base.vhd'));
    createVhdFile(p('base.vhd'), { size: 64 * KiB, type: 'dynamic' });
    const e = expectCode('parent-id', () => openVhd(p('kid.vhd')));
    expect(e.cause).toBeInstanceOf(VhdError);
    expect(e.message).toMatch(/unique id/);
  });

  it('a parent whose timestamp differs from the one recorded', () => {
    createVhdFile(p('ts.vhd'), { size: 64 * KiB, type: 'dynamic' });
    createDifferencingFile(p('ts-kid.vhd'), p('ts.vhd'));
    const img = new Uint8Array(fs.readFileSync(p('ts.vhd')));
    for (const at of [0, img.length - 512]) {
      const f = parseFooter(img.subarray(at, at + 512), 'test');
      f.timestamp -= 3600;
      img.set(encodeFooter(f), at);
    }
    fs.writeFileSync(p('ts.vhd'), img);
    fs.utimesSync(p('ts.vhd'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    expectCode('parent-timestamp', () => openVhd(p('ts-kid.vhd')));
    openVhd(p('ts-kid.vhd'), { checkParentTimestamp: false }).close();
  });

  it('a chain that loops back on itself', () => {
    // a <- b, then a is replaced by a child of b that carries a's identity.
    createVhdFile(p('a.vhd'), { size: 64 * KiB, type: 'dynamic' });
    createDifferencingFile(p('b.vhd'), p('a.vhd'));
    const a = openVhd(p('a.vhd'), { readOnly: true });
    const { uniqueId, timestamp } = a.footer;
    a.close();
    const b = openVhd(p('b.vhd'), { readOnly: true });
    const bInfo = { size: b.size, uniqueId: b.footer.uniqueId, timestamp: b.footer.timestamp };
    b.close();
    const raw = new MemoryFile();
    createDifferencingVhd(
      raw,
      { ...bInfo, name: p('b.vhd'), locators: [] },
      { uniqueId, timestamp },
    );
    fs.writeFileSync(p('a.vhd'), raw.contents());
    expectCode('parent-loop', () => openVhd(p('b.vhd')));
    expectCode('parent-loop', () => openVhd(p('a.vhd')));
  });

  it('a differencing disk that names itself as parent', () => {
    const raw = new MemoryFile();
    createDifferencingVhd(raw, { size: 64 * KiB, uniqueId: new Uint8Array(16).fill(9), timestamp: 5, name: p('self.vhd'), locators: [] }, {
      uniqueId: new Uint8Array(16).fill(9),
      timestamp: 5,
    });
    fs.writeFileSync(p('self.vhd'), raw.contents());
    expectCode('parent-loop', () => openVhd(p('self.vhd')));
  });
});

describe('random damage', () => {
  it('never throws anything but VhdError, whatever bytes of the metadata change', () => {
    const base = dynamicImage();
    let x = 12345;
    const rand = (n: number) => {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      return x % n;
    };
    let opened = 0;
    for (let i = 0; i < 400; i++) {
      const img = base.slice();
      const hits = 1 + rand(4);
      for (let h = 0; h < hits; h++) img[rand(i % 2 ? 2100 : img.length)] = rand(256);
      const cut = rand(5) === 0 ? img.subarray(0, rand(img.length)) : img;
      try {
        const d = openVhdFile(new MemoryFile(cut));
        readAll(d);
        d.write(0, new Uint8Array(4096));
        d.close();
        opened++;
      } catch (e) {
        if (!(e instanceof VhdError)) throw e;
      }
      const report = checkVhd(new MemoryFile(cut));
      expect(Array.isArray(report.errors)).toBe(true);
    }
    expect(opened).toBeGreaterThan(0);
  });
});
