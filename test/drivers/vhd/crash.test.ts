// Crash safety: a workload runs against an image whose file "crashes" at
// its k-th mutation, for every k in turn. The file left behind must pass
// `check` (leaks allowed, errors not) and read, sector by sector, either
// the value flushed last or a value written after that flush.
import { describe, expect, it } from 'vitest';
import type { BlockDevice } from '../../../drivers/block/device.ts';
import { MemoryFile } from '../../../drivers/block/file.ts';
import { checkVhd } from '../../../drivers/vhd/check.ts';
import { commitChild } from '../../../drivers/vhd/commit.ts';
import { createDifferencingVhd, createVhd } from '../../../drivers/vhd/create.ts';
import type { DynamicVhd } from '../../../drivers/vhd/dynamic.ts';
import { openVhdFile } from '../../../drivers/vhd/open.ts';
import { Clock, Crash, FaultyFile } from './faulty.ts';
import { firstDifference, pattern, readAll } from './helpers.ts';

const KiB = 1024;
const SIZE = 256 * KiB;

type Op = { kind: 'write'; offset: number; data: Uint8Array } | { kind: 'flush' };

function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

function workload(seed: number, ops: number): Op[] {
  const rand = random(seed);
  const out: Op[] = [];
  for (let i = 0; i < ops; i++) {
    if (rand() < 0.2) {
      out.push({ kind: 'flush' });
      continue;
    }
    const sectors = 1 + Math.floor(rand() * 24);
    const offset = Math.floor(rand() * (SIZE / 512 - sectors)) * 512;
    out.push({ kind: 'write', offset, data: pattern(sectors * 512, seed * 1000 + i) });
  }
  return out;
}

/** What each sector may hold after a crash. */
class Model {
  private pending = new Map<number, Uint8Array[]>();
  constructor(private durable: Uint8Array) {}
  willWrite(offset: number, data: Uint8Array): void {
    for (let s = 0; s < data.length; s += 512) {
      const list = this.pending.get(offset + s) ?? [];
      list.push(data.subarray(s, s + 512));
      this.pending.set(offset + s, list);
    }
  }
  flushed(): void {
    for (const [at, list] of this.pending) this.durable.set(list[list.length - 1]!, at);
    this.pending.clear();
  }
  /** The first sector offset holding something it may not, or -1. */
  violation(actual: Uint8Array): number {
    for (let at = 0; at < actual.length; at += 512) {
      const got = actual.subarray(at, at + 512);
      if (firstDifference(got, this.durable.subarray(at, at + 512)) === -1) continue;
      if ((this.pending.get(at) ?? []).some((v) => firstDifference(got, v) === -1)) continue;
      return at;
    }
    return -1;
  }
}

/** Runs the workload until the clock crashes it; returns the model at that moment. */
function runUntilCrash(disk: () => BlockDevice, ops: Op[], initial: Uint8Array): Model {
  const model = new Model(initial.slice());
  try {
    const dev = disk();
    for (const op of ops) {
      if (op.kind === 'write') {
        model.willWrite(op.offset, op.data);
        dev.write(op.offset, op.data);
      } else {
        dev.flush();
        model.flushed();
      }
    }
    dev.close();
    model.flushed();
  } catch (e) {
    if (!(e instanceof Crash)) throw e;
  }
  return model;
}

function expectRecoverable(image: Uint8Array, model: Model, parent: BlockDevice | null, label: string): void {
  const report = checkVhd(new MemoryFile(image));
  expect(report.errors, label).toEqual([]);
  const dev = openVhdFile(new MemoryFile(image), { parent, readOnly: true });
  expect(model.violation(readAll(dev)), label).toBe(-1);
}

interface Scenario {
  name: string;
  base: Uint8Array;
  parent: BlockDevice | null;
  initial: Uint8Array;
}

function scenarios(): Scenario[] {
  const dyn = new MemoryFile();
  createVhd(dyn, { size: SIZE, type: 'dynamic', blockSize: 4 * KiB });
  const fixed = new MemoryFile();
  createVhd(fixed, { size: SIZE, type: 'fixed' });
  const parentFile = new MemoryFile();
  createVhd(parentFile, { size: SIZE, type: 'dynamic', blockSize: 8 * KiB });
  const parent = openVhdFile(parentFile);
  parent.write(0, pattern(SIZE / 2, 77));
  parent.write(SIZE - 16 * KiB, pattern(16 * KiB, 78));
  parent.close();
  const parentRo = openVhdFile(new MemoryFile(parentFile.contents()), { readOnly: true });
  const child = new MemoryFile();
  createDifferencingVhd(
    child,
    { size: SIZE, uniqueId: parentRo.footer.uniqueId, timestamp: parentRo.footer.timestamp, name: 'p.vhd', locators: [] },
    { blockSize: 4 * KiB },
  );
  return [
    { name: 'dynamic', base: dyn.contents(), parent: null, initial: new Uint8Array(SIZE) },
    { name: 'fixed', base: fixed.contents(), parent: null, initial: new Uint8Array(SIZE) },
    { name: 'differencing', base: child.contents(), parent: parentRo, initial: readAll(parentRo) },
  ];
}

describe('crash safety', () => {
  for (const sc of scenarios()) {
    for (const seed of [1, 2]) {
      const ops = workload(seed, 40);
      const open = (file: FaultyFile) => () => openVhdFile(file, { parent: sc.parent });

      it(`${sc.name} disk, workload ${seed}: stopping at every write leaves a checkable disk with every flushed write`, () => {
        const dry = new FaultyFile(sc.base, new Clock());
        runUntilCrash(open(dry), ops, sc.initial);
        const writes = dry.clock.count;
        expect(writes).toBeGreaterThan(20);
        for (let k = 0; k <= writes; k++) {
          const file = new FaultyFile(sc.base, new Clock(k));
          const model = runUntilCrash(open(file), ops, sc.initial);
          expectRecoverable(file.afterOrderedCrash(), model, sc.parent, `crash at write ${k}`);
        }
      });

      it(`${sc.name} disk, workload ${seed}: losing any unsynced writes at a crash loses no flushed write`, () => {
        const dry = new FaultyFile(sc.base, new Clock());
        runUntilCrash(open(dry), ops, sc.initial);
        const rand = random(seed + 99);
        for (let k = 0; k <= dry.clock.count; k++) {
          const file = new FaultyFile(sc.base, new Clock(k));
          const model = runUntilCrash(open(file), ops, sc.initial);
          expectRecoverable(file.afterLossyCrash(() => false), model, sc.parent, `crash at ${k}, unsynced lost`);
          for (let trial = 0; trial < 3; trial++) {
            expectRecoverable(file.afterLossyCrash(() => rand() < 0.5), model, sc.parent, `crash at ${k}, trial ${trial}`);
          }
        }
      });
    }
  }

  it('a commit stopped at any write leaves the chain reading as before and both disks checkable', () => {
    const parentBase = new MemoryFile();
    createVhd(parentBase, { size: SIZE, type: 'dynamic', blockSize: 8 * KiB });
    const p = openVhdFile(parentBase);
    p.write(0, pattern(SIZE, 5));
    p.close();
    const parentFooter = openVhdFile(new MemoryFile(parentBase.contents()), { readOnly: true }).footer;
    const childBase = new MemoryFile();
    createDifferencingVhd(
      childBase,
      { size: SIZE, uniqueId: parentFooter.uniqueId, timestamp: parentFooter.timestamp, name: 'p.vhd', locators: [] },
      { blockSize: 4 * KiB },
    );
    const c = openVhdFile(childBase, { parent: openVhdFile(new MemoryFile(parentBase.contents()), { readOnly: true }) });
    for (const op of workload(3, 30)) if (op.kind === 'write') c.write(op.offset, op.data);
    c.close();
    const view = (parentImage: Uint8Array, childImage: Uint8Array): Uint8Array =>
      readAll(openVhdFile(new MemoryFile(childImage), { parent: openVhdFile(new MemoryFile(parentImage), { readOnly: true }), readOnly: true }));
    const before = view(parentBase.contents(), childBase.contents());

    let k = 0;
    for (;; k++) {
      const clock = new Clock(k);
      const pf = new FaultyFile(parentBase.contents(), clock);
      const cf = new FaultyFile(childBase.contents(), clock);
      let finished = false;
      try {
        const child = openVhdFile(cf, { parent: openVhdFile(pf) }) as DynamicVhd;
        commitChild(child);
        finished = true;
      } catch (e) {
        if (!(e instanceof Crash)) throw e;
      }
      for (const [pImg, cImg] of [
        [pf.afterOrderedCrash(), cf.afterOrderedCrash()],
        [pf.afterLossyCrash(() => false), cf.afterLossyCrash(() => false)],
      ] as const) {
        expect(checkVhd(new MemoryFile(pImg)).errors, `parent, crash at ${k}`).toEqual([]);
        expect(checkVhd(new MemoryFile(cImg)).errors, `child, crash at ${k}`).toEqual([]);
        expect(firstDifference(view(pImg, cImg), before), `chain view, crash at ${k}`).toBe(-1);
      }
      if (finished) {
        expect(firstDifference(readAll(openVhdFile(new MemoryFile(pf.afterOrderedCrash()))), before)).toBe(-1);
        break;
      }
    }
    expect(k).toBeGreaterThan(10);
  });
});
