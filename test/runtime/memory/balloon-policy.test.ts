// The automatic balloon policy (runtime/host/balloon-policy.ts): memory
// goes toward the partitions under pressure, within the budget, at a
// bounded rate; made-up figures, then the vmbus-dm guest's real balloon.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DynamicMemoryDevice } from '../../../drivers/vmbus/dm.ts';
import { BalloonPolicy, plan, type PolicyInput } from '../../../runtime/host/balloon-policy.ts';
import { ControlError } from '../../../runtime/host/controller.ts';
import { Host } from '../../../runtime/host/host.ts';
import { parseElf } from '../../../runtime/loader/elf.ts';
import { Machine } from '../../../runtime/machine/machine.ts';
import type { BalloonStatus } from '../../../runtime/machine/overcommit.ts';
import { BIN } from '../../support/enlightened.ts';

const MIB = 1 << 20;
const part = (id: number, ramMiB: number, targetMiB: number, availMiB: number | undefined): PolicyInput => ({
  id, ramBytes: ramMiB * MIB, targetBytes: targetMiB * MIB, actualBytes: targetMiB * MIB, availableBytes: availMiB === undefined ? undefined : availMiB * MIB,
});
const inMiB = (m: Map<number, number>) => Object.fromEntries([...m].map(([id, b]) => [id, b / MIB]));

describe('balloon policy plan', () => {
  it('gives each its use plus a 20% buffer when the budget holds everyone’s want', () => {
    // 0 uses 100 MiB (wants 120), 1 uses 40 (wants 48), 2 uses 5 (wants the 16 MiB floor).
    const p = plan([part(0, 256, 256, 156), part(1, 256, 256, 216), part(2, 256, 256, 251)], { budgetBytes: 1024 * MIB, stepBytes: 1024 * MIB });
    expect(inMiB(p)).toEqual({ 0: 120, 1: 48, 2: 16 });
  });

  it('under a tight budget shares what is above the floors in proportion to want: the busiest loses least', () => {
    // Uses (and wants, with no buffer) 116 and 41 MiB: 100 and 25 above the 16 MiB floors; 100 MiB to share above them.
    const p = plan([part(0, 256, 128, 12), part(1, 256, 128, 87)], { budgetBytes: 132 * MIB, stepBytes: 1024 * MIB, bufferPercent: 0 });
    expect(inMiB(p)).toEqual({ 0: 96, 1: 36 });
  });

  it('moves a target at most one step at a time, toward the pressure', () => {
    const c = { budgetBytes: 512 * MIB, stepBytes: 8 * MIB };
    let parts = [part(0, 256, 64, 0), part(1, 256, 256, 200)];
    const seen: Record<number, number>[] = [];
    for (let i = 0; i < 3; i++) {
      const next = plan(parts, c);
      seen.push(inMiB(next));
      parts = parts.map((p) => ({ ...p, targetBytes: next.get(p.id)!, actualBytes: next.get(p.id)! }));
    }
    // 0 is full (nothing available): it grows by 8 MiB a step; 1 uses 56 of 256 and shrinks by 8 a step.
    expect(seen).toEqual([{ 0: 72, 1: 248 }, { 0: 80, 1: 240 }, { 0: 88, 1: 232 }]);
  });

  it('leaves a partition that has not reported where it is, and never goes past its RAM', () => {
    const p = plan([part(0, 64, 40, undefined), part(1, 64, 60, 0)], { budgetBytes: 1024 * MIB, stepBytes: 1024 * MIB });
    expect(inMiB(p)).toEqual({ 0: 40, 1: 64 });
  });
});

describe('BalloonPolicy', () => {
  it('sets only the targets that move, on partitions with a balloon', () => {
    const set: [number, number][] = [];
    const fake = (id: number, status: BalloonStatus | undefined) => ({
      id, ramBytes: 256 * MIB, balloonStatus: () => status, setBalloonTarget: (b: number) => void set.push([id, b / MIB]),
    });
    const st = (target: number, avail?: number): BalloonStatus => ({
      targetBytes: target * MIB, actualBytes: target * MIB, guestStats: avail === undefined ? {} : { availableMemory: avail * MIB },
    });
    const policy = new BalloonPolicy(() => [fake(0, st(256, 156)), fake(1, undefined), fake(2, st(100)), fake(3, st(120, 20))], { budgetBytes: 1 << 30, stepBytes: 64 * MIB });
    expect(inMiB(policy.step())).toEqual({ 0: 192 });
    expect(set).toEqual([[0, 192]]);
    expect(policy.moves).toBe(1);
  });
});

describe('BalloonPolicy with a real guest', () => {
  it('balloons the vmbus-dm guest down to its share of a tight budget and back when the budget grows, exactly', async () => {
    const RAM = 32 * MIB;
    const dm = new DynamicMemoryDevice();
    let output = '';
    const seen = new Set<string>();
    // A 30% buffer: the guest's use plus it is more than its RAM whether its last status report
    // came before or after it ballooned (they come once a second), so each step has one answer.
    const config = { budgetBytes: RAM - 768 * 4096, stepBytes: 4 * MIB, minBytes: 8 * MIB, bufferPercent: 30 };
    const m: Machine = new Machine({
      ramSize: RAM, harts: 1, clock: 'icount', paging: 'nested', overcommit: { dynamicMemory: true }, vmbus: [dm],
      onConsole: (b) => {
        output += Buffer.from(b).toString('latin1');
        // The policy's steps at deterministic points: once the guest has reported, each console flush.
        if (output.includes('waiting for balloon\n') && !seen.has('tight')) {
          seen.add('tight');
          policy.step();
        }
        if (output.includes('waiting for unballoon\n') && !seen.has('loose')) {
          seen.add('loose');
          config.budgetBytes = 1 << 30;
          policy.step();
        }
      },
    });
    const oc = m.overcommit!;
    oc.attachDynamicMemory(dm);
    const policy = new BalloonPolicy(() => [{ id: m.id, ramBytes: RAM, balloonStatus: () => oc.balloonStatus(), setBalloonTarget: (b) => oc.setBalloonTarget(b) }], config);
    const entry = m.loadElf(parseElf(readFileSync(join(BIN, 'vmbus-dm.elf'))));
    m.bootEnlightened(entry, m.placeDtb());
    expect(await m.run({ maxInsns: 2_000_000_000 })).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    // The guest's status said it uses all but 4 MiB of its pool: the budget is what it gets, then all of its RAM.
    expect(output).toBe(readFileSync('guests/expected/enlightened/vmbus-dm.out', 'latin1'));
    expect(policy.moves).toBe(2);
  });
});

describe('HostController.balloonPolicy', () => {
  it('switches on with a budget, refuses one it cannot have, and switches off', async () => {
    const host = await Host.start({ pcpus: 1, memoryBytes: 16 << 20 });
    try {
      await expect(host.balloonPolicy({})).rejects.toThrow(new ControlError('balloon policy: no running partition has a balloon to take its budget from (give budgetBytes)'));
      await expect(host.balloonPolicy({ budgetBytes: 64 * MIB, stepBytes: 100 })).rejects.toThrow(/stepBytes at least a page/);
      await expect(host.balloonPolicy({ budgetBytes: 64 * MIB, intervalMs: 1 })).rejects.toThrow(/intervalMs must be at least 10/);
      expect(await host.balloonPolicy({ budgetBytes: 64 * MIB })).toEqual({ budgetBytes: 64 * MIB, stepBytes: 16 * MIB });
      expect(await host.balloonPolicy(null)).toBeNull();
    } finally {
      await host.close();
    }
  });
});
