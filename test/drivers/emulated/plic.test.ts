import { describe, expect, it } from 'vitest';
import {
  PLIC_CONTEXT_BASE,
  PLIC_CONTEXT_STRIDE,
  PLIC_ENABLE_BASE,
  PLIC_ENABLE_STRIDE,
  PLIC_PENDING_BASE,
  plicContext,
} from '../../../drivers/board/memmap.ts';
import { Plic } from '../../../drivers/emulated/plic.ts';

function plic(harts = 2) {
  const level = new Map<string, boolean>();
  const dev = new Plic({ harts, output: (hart, mode, l) => level.set(`${hart}${mode}`, l) });
  const ctx = (hart: number, mode: 'M' | 'S' = 'S') => plicContext(hart, mode);
  const api = {
    dev,
    out: (hart: number, mode: 'M' | 'S') => level.get(`${hart}${mode}`) ?? false,
    prio: (irq: number, p: number) => dev.write(4 * irq, 4, p),
    enable: (c: number, ...irqs: number[]) => {
      for (const irq of irqs) {
        const off = PLIC_ENABLE_BASE + PLIC_ENABLE_STRIDE * c + 4 * (irq >>> 5);
        dev.write(off, 4, dev.read(off, 4) | (1 << (irq & 31)));
      }
    },
    threshold: (c: number, t: number) => dev.write(PLIC_CONTEXT_BASE + PLIC_CONTEXT_STRIDE * c, 4, t),
    claim: (c: number) => dev.read(PLIC_CONTEXT_BASE + PLIC_CONTEXT_STRIDE * c + 4, 4),
    complete: (c: number, irq: number) => dev.write(PLIC_CONTEXT_BASE + PLIC_CONTEXT_STRIDE * c + 4, 4, irq),
    ctx,
  };
  return api;
}

describe('PLIC', () => {
  it('claim returns the highest-priority enabled source', () => {
    const p = plic();
    const c = p.ctx(0);
    p.prio(10, 2);
    p.prio(11, 5);
    p.prio(3, 1);
    p.enable(c, 3, 10, 11);
    for (const irq of [3, 10, 11]) p.dev.setIrq(irq, true);
    expect(p.claim(c)).toBe(11);
    expect(p.claim(c)).toBe(10);
    expect(p.claim(c)).toBe(3);
    expect(p.claim(c)).toBe(0);
  });

  it('breaks priority ties in favour of the lowest source id', () => {
    const p = plic();
    const c = p.ctx(0);
    for (const irq of [7, 5, 40]) {
      p.prio(irq, 3);
      p.enable(c, irq);
      p.dev.setIrq(irq, true);
    }
    expect(p.claim(c)).toBe(5);
    expect(p.claim(c)).toBe(7);
    expect(p.claim(c)).toBe(40);
  });

  it('ignores sources not enabled for the context', () => {
    const p = plic();
    p.prio(10, 1);
    p.enable(p.ctx(1), 10);
    p.dev.setIrq(10, true);
    expect(p.out(0, 'S')).toBe(false);
    expect(p.claim(p.ctx(0))).toBe(0);
    expect(p.out(1, 'S')).toBe(true);
    expect(p.claim(p.ctx(1))).toBe(10);
  });

  it('raises only sources whose priority exceeds the threshold', () => {
    const p = plic();
    const c = p.ctx(0, 'M');
    p.prio(10, 3);
    p.enable(c, 10);
    p.threshold(c, 3);
    p.dev.setIrq(10, true);
    expect(p.out(0, 'M')).toBe(false);
    expect(p.claim(c)).toBe(0);
    p.threshold(c, 2);
    expect(p.out(0, 'M')).toBe(true);
    expect(p.claim(c)).toBe(10);
  });

  it('never raises a source of priority 0', () => {
    const p = plic();
    const c = p.ctx(0);
    p.enable(c, 10);
    p.dev.setIrq(10, true);
    expect(p.dev.isPending(10)).toBe(true);
    expect(p.out(0, 'S')).toBe(false);
  });

  it('drives M-mode and S-mode contexts of each hart separately', () => {
    const p = plic(2);
    p.prio(1, 1);
    p.enable(p.ctx(1, 'M'), 1);
    p.dev.setIrq(1, true);
    expect(p.out(1, 'M')).toBe(true);
    expect(p.out(1, 'S')).toBe(false);
    expect(p.out(0, 'M')).toBe(false);
  });

  it('claim clears the pending bit and lowers the output', () => {
    const p = plic();
    const c = p.ctx(0);
    p.prio(10, 1);
    p.enable(c, 10);
    p.dev.setIrq(10, true);
    expect(p.dev.read(PLIC_PENDING_BASE, 4)).toBe(1 << 10);
    expect(p.claim(c)).toBe(10);
    expect(p.dev.read(PLIC_PENDING_BASE, 4)).toBe(0);
    expect(p.out(0, 'S')).toBe(false);
  });

  it('does not re-raise a claimed source whose line stays high until it is completed', () => {
    const p = plic();
    const c = p.ctx(0);
    p.prio(10, 1);
    p.enable(c, 10);
    p.dev.setIrq(10, true);
    p.claim(c);
    p.dev.setIrq(10, true);
    expect(p.out(0, 'S')).toBe(false);
    expect(p.claim(c)).toBe(0);
    p.complete(c, 10);
    expect(p.out(0, 'S')).toBe(true);
    expect(p.claim(c)).toBe(10);
  });

  it('does not interrupt again after the completion for a line left high and not driven again (as QEMU 7.2)', () => {
    const p = plic();
    const c = p.ctx(0);
    p.prio(10, 1);
    p.enable(c, 10);
    p.dev.setIrq(10, true);
    expect(p.claim(c)).toBe(10);
    p.complete(c, 10);
    expect(p.out(0, 'S')).toBe(false);
    expect(p.claim(c)).toBe(0);
    // The device drives it again (an event): a new request.
    p.dev.setIrq(10, true);
    expect(p.out(0, 'S')).toBe(true);
    expect(p.claim(c)).toBe(10);
  });

  it('leaves a completed source idle when its line has dropped', () => {
    const p = plic();
    const c = p.ctx(0);
    p.prio(10, 1);
    p.enable(c, 10);
    p.dev.setIrq(10, true);
    p.claim(c);
    p.dev.setIrq(10, false);
    p.complete(c, 10);
    expect(p.out(0, 'S')).toBe(false);
    expect(p.dev.isPending(10)).toBe(false);
  });

  it('keeps a forwarded request pending when the line drops before the claim (no withdrawal)', () => {
    const p = plic();
    const c = p.ctx(0);
    p.prio(10, 1);
    p.enable(c, 10);
    p.dev.setIrq(10, true);
    p.dev.setIrq(10, false);
    expect(p.out(0, 'S')).toBe(true);
    expect(p.claim(c)).toBe(10);
    p.complete(c, 10);
    expect(p.dev.isPending(10)).toBe(false); // the line is low: nothing new to forward
  });

  it('ignores a completion from a context the source is not enabled for', () => {
    const p = plic();
    p.prio(10, 1);
    p.enable(p.ctx(0), 10);
    p.dev.setIrq(10, true);
    expect(p.claim(p.ctx(0))).toBe(10);
    p.complete(p.ctx(1), 10);
    expect(p.claim(p.ctx(0))).toBe(0); // still in flight
    p.complete(p.ctx(0), 10);
    p.dev.setIrq(10, true);
    expect(p.claim(p.ctx(0))).toBe(10);
  });

  it('keeps priorities and thresholds to 3 bits and source 0 at priority 0', () => {
    const p = plic();
    p.prio(10, 0xff);
    expect(p.dev.read(4 * 10, 4)).toBe(7);
    p.prio(0, 5);
    expect(p.dev.read(0, 4)).toBe(0);
    p.threshold(0, 9);
    expect(p.dev.read(PLIC_CONTEXT_BASE, 4)).toBe(1);
  });

  it('treats the pending bits as read-only', () => {
    const p = plic();
    p.dev.write(PLIC_PENDING_BASE, 4, 0xffff_ffff);
    expect(p.dev.read(PLIC_PENDING_BASE, 4)).toBe(0);
  });

  it('implements enable bits only for existing sources 1..95', () => {
    const p = plic();
    const base = PLIC_ENABLE_BASE;
    p.dev.write(base, 4, 0xffff_ffff);
    p.dev.write(base + 8, 4, 0xffff_ffff);
    p.dev.write(base + 12, 4, 0xffff_ffff);
    expect(p.dev.read(base, 4)).toBe(0xffff_fffe);
    expect(p.dev.read(base + 8, 4)).toBe(0xffff_ffff); // sources 64..95
    expect(p.dev.read(base + 12, 4)).toBe(0); // sources 96.. do not exist
    p.dev.setIrq(96, true);
    p.dev.setIrq(0, true);
    expect(p.dev.read(PLIC_PENDING_BASE, 4)).toBe(0);
  });

  it('ignores contexts beyond its harts and sub-word or misaligned accesses', () => {
    const p = plic(1);
    expect(p.dev.read(PLIC_CONTEXT_BASE + 2 * PLIC_CONTEXT_STRIDE, 4)).toBe(0);
    p.dev.write(PLIC_CONTEXT_BASE + 5 * PLIC_CONTEXT_STRIDE, 4, 7);
    p.prio(10, 3);
    expect(p.dev.read(4 * 10, 1)).toBe(0);
    expect(p.dev.read(4 * 10 + 1, 4)).toBe(0);
    p.dev.write(4 * 10, 2, 1);
    expect(p.dev.read(4 * 10, 4)).toBe(3);
  });

  it('clears all state but keeps asserted lines pending across a reset', () => {
    const p = plic();
    const c = p.ctx(0);
    p.prio(10, 1);
    p.enable(c, 10);
    p.dev.setIrq(10, true);
    p.dev.setIrq(11, true);
    p.claim(c);
    p.dev.reset();
    expect(p.dev.read(4 * 10, 4)).toBe(0);
    expect(p.out(0, 'S')).toBe(false);
    expect(p.dev.isPending(10)).toBe(true);
    expect(p.dev.isPending(11)).toBe(true);
  });

  it('restores a snapshot, including in-flight claims, and drives the outputs', () => {
    const a = plic();
    const c = a.ctx(1);
    a.prio(5, 2);
    a.prio(6, 1);
    a.enable(c, 5, 6);
    a.dev.setIrq(5, true);
    a.dev.setIrq(6, true);
    expect(a.claim(c)).toBe(5);
    const b = plic();
    b.dev.restore(JSON.parse(JSON.stringify(a.dev.save())));
    expect(b.out(1, 'S')).toBe(true);
    expect(b.claim(c)).toBe(6);
    expect(b.claim(c)).toBe(0);
    b.complete(c, 5);
    b.dev.setIrq(5, true);
    expect(b.claim(c)).toBe(5);
  });

  it('rejects a snapshot of a PLIC with another geometry', () => {
    const a = plic(1);
    const b = plic(2);
    expect(() => b.dev.restore(a.dev.save())).toThrow(/geometry/);
  });

  it('refuses a hart count its window cannot hold', () => {
    expect(() => new Plic({ harts: 0, output: () => {} })).toThrow(RangeError);
    expect(() => new Plic({ harts: 513, output: () => {} })).toThrow(RangeError);
    expect(new Plic({ harts: 512, output: () => {} }).contexts).toBe(1024);
  });
});
