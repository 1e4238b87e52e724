// The shared suite every MmioDevice runs: guest-controlled offsets, sizes and
// values never throw, snapshots round-trip through JSON, reset is clean.
import { describe, expect, it } from 'vitest';
import { type AccessSize, type MmioDevice } from '../../../drivers/emulated/device.ts';
import { GoldfishRtc } from '../../../drivers/emulated/goldfish_rtc.ts';
import { Plic } from '../../../drivers/emulated/plic.ts';
import { TestFinisher } from '../../../drivers/emulated/test_finisher.ts';
import { Uart16550 } from '../../../drivers/emulated/uart16550.ts';
import { EmptyVirtioSlot } from '../../../drivers/emulated/virtio_mmio_empty.ts';
import { MemoryFile } from '../../../drivers/block/file.ts';
import { RawDevice } from '../../../drivers/block/raw.ts';
import { RamGuestMemory } from '../../../drivers/emulated/dma.ts';
import { VirtioBlk } from '../../../drivers/emulated/virtio/blk.ts';
import { VirtioMmio } from '../../../drivers/emulated/virtio/mmio.ts';

const fixedClock = { nowNs: () => 1_700_000_000_000_000_000n };

const DEVICES: [string, () => MmioDevice][] = [
  ['uart16550', () => new Uart16550()],
  ['plic', () => new Plic({ harts: 2, output: () => {} })],
  ['goldfish_rtc', () => new GoldfishRtc({ clock: fixedClock })],
  ['test_finisher', () => new TestFinisher(() => {})],
  ['virtio_mmio_empty', () => new EmptyVirtioSlot('virtio0')],
  ['virtio_blk', () => new VirtioMmio(new VirtioBlk(new RawDevice(new MemoryFile(new Uint8Array(8192)))), new RamGuestMemory(new Uint8Array(1 << 16), 0x8000_0000))],
  ['virtio_blk_legacy', () => new VirtioMmio(new VirtioBlk(new RawDevice(new MemoryFile(new Uint8Array(8192)))), new RamGuestMemory(new Uint8Array(1 << 16), 0x8000_0000), { legacy: true })],
];

/** xorshift32: deterministic "random" guest traffic. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const WEIRD_OFFSETS = [-1, -4, 0.5, NaN, Infinity, 2 ** 32, 2 ** 53, Number.MAX_VALUE];
const WEIRD_SIZES = [0, 3, 8, 16, -1, NaN] as unknown as AccessSize[];
const WEIRD_VALUES = [-1, 2 ** 32, 2 ** 40, NaN, Infinity, 0.75, -(2 ** 31)];

describe.each(DEVICES)('%s as an MmioDevice', (_name, make) => {
  it('survives random guest accesses across its window without throwing', () => {
    const dev = make();
    const next = rng(0x5eed);
    const sizes: AccessSize[] = [1, 2, 4];
    let bad = 0;
    for (let i = 0; i < 20_000; i++) {
      const r = next();
      // Bias towards the first registers, where the behaviour is.
      const offset = r & 1 ? next() % Math.min(dev.size, 0x100) : next() % dev.size;
      const size = sizes[r % 3]!;
      if (r & 2) {
        dev.write(offset, size, next());
      } else {
        const v = dev.read(offset, size);
        if (!(Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff)) bad++;
      }
    }
    expect(bad).toBe(0);
  });

  it('reads 0 and ignores writes at impossible offsets, sizes and values', () => {
    const dev = make();
    for (const off of WEIRD_OFFSETS) {
      for (const size of [1, 2, 4, ...WEIRD_SIZES] as AccessSize[]) {
        expect(() => dev.write(off, size, 0x5555)).not.toThrow();
        const v = dev.read(off, size);
        expect(v === 0 || (Number.isInteger(v) && v >= 0)).toBe(true);
      }
    }
    for (const value of WEIRD_VALUES) {
      for (let off = 0; off < 0x20; off += 1) {
        expect(() => dev.write(off, 4, value)).not.toThrow();
        expect(() => dev.write(off, 1, value)).not.toThrow();
      }
    }
  });

  it('round-trips its snapshot through JSON', () => {
    const a = make();
    const next = rng(7);
    for (let i = 0; i < 2000; i++) a.write(next() % Math.min(a.size, 0x40), 4, next());
    const snap = JSON.parse(JSON.stringify(a.save()));
    const b = make();
    b.restore(snap);
    expect(JSON.parse(JSON.stringify(b.save()))).toEqual(snap);
  });

  it('resets without throwing and keeps its window size', () => {
    const dev = make();
    const size = dev.size;
    dev.reset();
    expect(dev.size).toBe(size);
    expect(typeof dev.name).toBe('string');
  });
});
