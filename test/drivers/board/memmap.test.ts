import { describe, expect, it } from 'vitest';
import {
  MAX_HARTS,
  MEMMAP,
  PLIC_CONTEXT_BASE,
  PLIC_CONTEXT_STRIDE,
  plicContext,
  type Region,
  regionBase,
  regionIrq,
} from '../../../drivers/board/memmap.ts';

describe('virt memory map', () => {
  it('matches QEMU virt_memmap[] and its irq numbers', () => {
    expect(MEMMAP.test).toMatchObject({ base: 0x10_0000, size: 0x1000 });
    expect(MEMMAP.rtc).toMatchObject({ base: 0x10_1000, size: 0x1000, irq: 11 });
    expect(MEMMAP.clint).toMatchObject({ base: 0x200_0000, size: 0x1_0000 });
    expect(MEMMAP.plic).toMatchObject({ base: 0xc00_0000, size: 0x60_0000 });
    expect(MEMMAP.uart0).toMatchObject({ base: 0x1000_0000, size: 0x100, irq: 10 });
    expect(MEMMAP.virtio).toMatchObject({ base: 0x1000_1000, size: 0x1000, count: 8, irq: 1 });
    expect(MEMMAP.dram.base).toBe(0x8000_0000);
  });

  it('places virtio slot n at 0x1000_1000 + n * 0x1000 with irq 1 + n', () => {
    expect(regionBase('virtio', 7)).toBe(0x1000_8000);
    expect(regionIrq('virtio', 7)).toBe(8);
    expect(regionIrq('clint')).toBeUndefined();
  });

  it('has no overlapping regions', () => {
    const spans = Object.values(MEMMAP as Record<string, Region>)
      .filter((r) => r.size > 0)
      .map((r) => [r.base, r.base + r.size * r.count] as const)
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  });

  it('gives hart h PLIC contexts 2h (M) and 2h+1 (S), all inside the window', () => {
    expect(plicContext(0, 'M')).toBe(0);
    expect(plicContext(3, 'S')).toBe(7);
    const last = PLIC_CONTEXT_BASE + PLIC_CONTEXT_STRIDE * plicContext(MAX_HARTS - 1, 'S');
    expect(last + PLIC_CONTEXT_STRIDE).toBe(MEMMAP.plic.size);
  });
});
