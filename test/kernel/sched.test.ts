// The vCPU scheduler (kernel/sched/, docs/scheduler.md) with real guests:
// spinners, sleepers and a tick-dodging gamer from guests/sched/, several
// partitions in one host memory, deterministic mode (time = instructions;
// 1 ms = 10_000 instructions, so a slice is 300_000).
import { describe, expect, test } from 'vitest';
import { PcpuStat, SState, VcpuStat } from '../../runtime/host/sched.ts';
import { SchedRig, shares } from './sched-harness.ts';

const FIGURES = process.env.SCHED_FIGURES === '1';
const figure = (label: string, value: unknown) => {
  if (FIGURES) console.log(`[sched] ${label}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
};
const pct = (x: number) => Math.round(x * 10000) / 100;

describe('proportional share', () => {
  test('weights 2:1 on one pCPU give shares within 2% of 2:1', () => {
    const rig = new SchedRig({ pcpus: 1, partitions: [{ guest: 'spin', weight: 512 }, { guest: 'spin', weight: 256 }] });
    rig.run(1200);
    const ratio = rig.partRun(0) / rig.partRun(1);
    figure('2:1 on 1 pCPU, ratio', ratio);
    expect(Math.abs(ratio / 2 - 1)).toBeLessThan(0.02);
    // The guests' own loop counters agree with the scheduler's accounting.
    const counted = Number(rig.peek(0, 'counters')) / Number(rig.peek(1, 'counters'));
    expect(Math.abs(counted / 2 - 1)).toBeLessThan(0.02);
  });

  test('weights 2:1 with two vCPUs each on two pCPUs', () => {
    const rig = new SchedRig({
      pcpus: 2,
      partitions: [{ guest: 'spin', vcpus: 2, weight: 512 }, { guest: 'spin', vcpus: 2, weight: 256 }],
    });
    rig.run(1200);
    const ratio = rig.partRun(0) / rig.partRun(1);
    figure('2:1 on 2 pCPUs (2+2 vCPUs), ratio', ratio);
    expect(Math.abs(ratio / 2 - 1)).toBeLessThan(0.02);
    expect(rig.pcpuStat(0, PcpuStat.IDLE) + rig.pcpuStat(1, PcpuStat.IDLE)).toBe(0);
  });

  test('three equal vCPUs on two pCPUs get 2/3 of a pCPU each', () => {
    const rig = new SchedRig({ pcpus: 2, partitions: [{ guest: 'spin' }, { guest: 'spin' }, { guest: 'spin' }] });
    rig.run(1500);
    const total = 2 * rig.ms(1500);
    const got = [0, 1, 2].map((id) => rig.partRun(id) / total);
    figure('3 equal vCPUs on 2 pCPUs, share of the machine', got.map(pct));
    for (const s of got) expect(Math.abs(s * 3 - 1)).toBeLessThan(0.02);
  });

  test('a partition weighted 3:1 against one with two vCPUs', () => {
    // Weight is per partition, split among its active vCPUs.
    const rig = new SchedRig({
      pcpus: 1,
      partitions: [{ guest: 'spin', weight: 768 }, { guest: 'spin', vcpus: 2, weight: 256 }],
    });
    rig.run(1200);
    const [a, b] = shares(rig, [0, 1]);
    figure('3:1 (1 vCPU vs 2 vCPUs), shares', [pct(a!), pct(b!)]);
    expect(Math.abs(a! / b! / 3 - 1)).toBeLessThan(0.02);
    const [v1, v2] = rig.vcpusOf(1).map((v) => rig.vcpuStat(v, VcpuStat.RUN));
    expect(Math.abs(v1! / v2! - 1)).toBeLessThan(0.02);
  });
});

describe('cap', () => {
  test('a 30% cap holds within 2% when the partition is alone (the pCPU idles)', () => {
    const rig = new SchedRig({ pcpus: 1, partitions: [{ guest: 'spin', cap: 30 }] });
    rig.run(1200);
    const share = rig.partRun(0) / rig.ms(1200);
    figure('30% cap alone, share', pct(share));
    expect(Math.abs(share - 0.3)).toBeLessThan(0.02 * 0.3);
    expect(rig.pcpuStat(0, PcpuStat.IDLE)).toBeGreaterThan(rig.ms(800));
  });

  test('a 30% cap holds against an uncapped spinner of lower weight', () => {
    const rig = new SchedRig({ pcpus: 1, partitions: [{ guest: 'spin', cap: 30, weight: 1024 }, { guest: 'spin' }] });
    rig.run(1200);
    const [a, b] = shares(rig, [0, 1]);
    figure('30% cap (weight 1024) vs uncapped (256), shares', [pct(a!), pct(b!)]);
    expect(Math.abs(a! - 0.3)).toBeLessThan(0.02 * 0.3);
    expect(b!).toBeGreaterThan(0.69);
  });

  test('a 50% cap on a two-vCPU partition spread over two pCPUs', () => {
    const rig = new SchedRig({ pcpus: 2, partitions: [{ guest: 'spin', vcpus: 2, cap: 50, pcpu: (h) => h }] });
    rig.run(1200);
    const share = rig.partRun(0) / rig.ms(1200); // of one pCPU
    figure('50% cap, 2 vCPUs on 2 pCPUs, share of one pCPU', pct(share));
    expect(Math.abs(share - 0.5)).toBeLessThan(0.02 * 0.5);
  });
});

describe('reservation', () => {
  test('a 50% reservation is honoured against three equal partitions', () => {
    const parts = [{ guest: 'spin' as const, reservation: 50 }, { guest: 'spin' as const }, { guest: 'spin' as const }, { guest: 'spin' as const }];
    const rig = new SchedRig({ pcpus: 1, partitions: parts });
    rig.run(1200);
    const s = shares(rig, [0, 1, 2, 3]);
    figure('50% reservation vs 3 equal, shares', s.map(pct));
    expect(s[0]!).toBeGreaterThan(0.49);
    // The rest share what is left by weight.
    for (const x of s.slice(1)) expect(Math.abs(x * 6 - 1)).toBeLessThan(0.02);
  });

  test('without it the same partition gets a quarter', () => {
    const parts = [{ guest: 'spin' as const }, { guest: 'spin' as const }, { guest: 'spin' as const }, { guest: 'spin' as const }];
    const rig = new SchedRig({ pcpus: 1, partitions: parts });
    rig.run(1200);
    const s = shares(rig, [0, 1, 2, 3]);
    for (const x of s) expect(Math.abs(x * 4 - 1)).toBeLessThan(0.02);
  });

  test('a reservation beats a much heavier weight', () => {
    const rig = new SchedRig({
      pcpus: 2,
      partitions: [{ guest: 'spin', weight: 64, reservation: 40 }, { guest: 'spin', vcpus: 4, weight: 4096 }],
    });
    rig.run(1200);
    const share = rig.partRun(0) / rig.ms(1200); // of one pCPU
    figure('40% reservation, weight 64 vs 4 vCPUs of weight 4096 on 2 pCPUs, share of one pCPU', pct(share));
    expect(share).toBeGreaterThan(0.39);
  });
});

describe('BOOST', () => {
  const sleeperVsSpinners = (boost: boolean) => {
    const rig = new SchedRig({
      pcpus: 1,
      boost,
      partitions: [{ guest: 'sleeper' }, { guest: 'spin' }, { guest: 'spin' }, { guest: 'spin' }],
    });
    rig.run(2000);
    const wakes = Number(rig.peek(0, 'stats', 0));
    const lateMax = Number(rig.peek(0, 'stats', 2)); // mtime ticks = instructions here
    const lateAvg = Number(rig.peek(0, 'stats', 1)) / wakes;
    return { rig, wakes, lateMax, lateAvg };
  };

  test('a vCPU waking from WFI runs within one slice', () => {
    const { rig, wakes, lateMax, lateAvg } = sleeperVsSpinners(true);
    figure('sleeper vs 3 spinners with BOOST: wakes, lateness max/avg (ms)', [wakes, lateMax / rig.ms(1), lateAvg / rig.ms(1)]);
    expect(wakes).toBeGreaterThan(100);
    expect(lateMax).toBeLessThanOrEqual(rig.ms(30)); // one slice
    expect(lateMax).toBeLessThanOrEqual(rig.ms(2)); // in fact: about one poll interval (1 ms)
    expect(rig.vcpuStat(0, VcpuStat.BOOSTED)).toBeGreaterThan(100);
  });

  test('without BOOST the same sleeper waits longer', () => {
    const on = sleeperVsSpinners(true);
    const off = sleeperVsSpinners(false);
    figure('sleeper vs 3 spinners without BOOST: wakes, lateness max/avg (ms)', [off.wakes, off.lateMax / off.rig.ms(1), off.lateAvg / off.rig.ms(1)]);
    expect(off.lateAvg).toBeGreaterThan(on.lateAvg);
    expect(off.rig.vcpuStat(0, VcpuStat.BOOSTED)).toBe(0);
  });
});

describe('work stealing', () => {
  test('an idle pCPU takes runnable vCPUs from a busy pCPU queue', () => {
    const rig = new SchedRig({ pcpus: 2, partitions: [{ guest: 'spin', vcpus: 4, pcpu: () => 0 }] });
    const all = rig.vcpusOf(0);
    expect(all.map((v) => rig.k.schedVcpuPcpu(v))).toEqual([0, 0, 0, 0]);
    rig.run(1200);
    const steals = rig.pcpuStat(1, PcpuStat.STEALS);
    const idle1 = rig.pcpuStat(1, PcpuStat.IDLE);
    figure('4 vCPUs queued on pCPU 0 of 2: steals by pCPU 1, its idle (ms)', [steals, idle1 / rig.ms(1)]);
    expect(steals).toBeGreaterThan(0);
    expect(idle1).toBeLessThan(rig.ms(1)); // idle for at most its first step
    expect(all.some((v) => rig.vcpuStat(v, VcpuStat.MIGRATIONS) > 0)).toBe(true);
    const runs = all.map((v) => rig.vcpuStat(v, VcpuStat.RUN) / rig.ms(1200));
    figure('... each vCPU, share of a pCPU', runs.map(pct));
    for (const r of runs) expect(Math.abs(r * 2 - 1)).toBeLessThan(0.02);
  });
});

describe('accounting by consumption', () => {
  test('a vCPU that sleeps across every tick does not earn extra share', () => {
    const rig = new SchedRig({ pcpus: 1, partitions: [{ guest: 'gamer' }, { guest: 'spin' }] });
    rig.run(2100);
    const [gamer, honest] = shares(rig, [0, 1]);
    const dodges = rig.vcpuStat(0, VcpuStat.WAKES);
    figure('tick-dodging gamer vs spinner: shares, gamer wakes', [pct(gamer!), pct(honest!), dodges]);
    expect(dodges).toBeGreaterThan(80); // it did sleep across the ticks it would have run into
    expect(gamer!).toBeLessThan(0.52);
    expect(honest!).toBeGreaterThan(0.48);
  });

  test('a vCPU that yields just before every tick does not earn extra share', () => {
    // The yield is a hypervisor call the kernel scheduler handles itself
    // (the harness fails on any exit to the host).
    const rig = new SchedRig({ pcpus: 1, partitions: [{ guest: 'yielder' }, { guest: 'spin' }] });
    rig.run(2100);
    const [yielder, honest] = shares(rig, [0, 1]);
    const yields = Number(rig.peek(0, 'yields'));
    figure('yield-before-tick vCPU vs spinner: shares, yields', [pct(yielder!), pct(honest!), yields]);
    expect(yields).toBeGreaterThan(80);
    expect(yielder!).toBeLessThan(0.52);
    expect(honest!).toBeGreaterThan(0.48);
  });

  test('a yield hands the pCPU to a waiting vCPU', () => {
    const rig = new SchedRig({ pcpus: 1, partitions: [{ guest: 'yielder', patch: { guard_ticks: 100_000n } }, { guest: 'spin' }] });
    // guard = tick: it yields every time it runs, as a spin-lock waiter would.
    rig.run(300);
    const [yielder, honest] = shares(rig, [0, 1]);
    figure('always-yielding vCPU vs spinner: shares', [pct(yielder!), pct(honest!)]);
    expect(yielder!).toBeLessThan(0.01);
    expect(rig.pcpuStat(0, PcpuStat.IDLE)).toBe(0);
  });
});

describe('scale', () => {
  test('192 vCPUs across 8 partitions on 4 pCPUs all make progress, shares by weight', () => {
    const weights = [128, 256, 256, 384, 512, 512, 768, 1024];
    const rig = new SchedRig({
      pcpus: 4,
      partitions: weights.map((weight) => ({ guest: 'spin' as const, vcpus: 24, weight })),
    });
    rig.run(600);
    let minRun = Infinity;
    let minCount = Infinity;
    for (let id = 0; id < weights.length; id++) {
      for (const v of rig.vcpusOf(id)) minRun = Math.min(minRun, rig.vcpuStat(v, VcpuStat.RUN));
      for (let h = 0; h < 24; h++) minCount = Math.min(minCount, Number(rig.peek(id, 'counters', h)));
    }
    expect(minRun).toBeGreaterThan(0);
    expect(minCount).toBeGreaterThan(0);
    const s = shares(rig, weights.map((_, id) => id));
    const wsum = weights.reduce((a, b) => a + b, 0);
    const err = s.map((x, id) => x / (weights[id]! / wsum) - 1);
    figure('192 vCPUs: partition share / weight share - 1', err.map(pct));
    figure('192 vCPUs: least run by a vCPU (ms)', minRun / rig.ms(1));
    for (const e of err) expect(Math.abs(e)).toBeLessThan(0.05);
    for (let p = 0; p < 4; p++) expect(rig.pcpuStat(p, PcpuStat.IDLE)).toBe(0);
  });
});

describe('deterministic mode', () => {
  test('the same configuration gives the same statistics, instruction for instruction', () => {
    const make = () =>
      new SchedRig({
        pcpus: 3,
        partitions: [
          { guest: 'spin', vcpus: 3, weight: 300 },
          { guest: 'sleeper', vcpus: 2 },
          { guest: 'gamer' },
          { guest: 'spin', vcpus: 2, cap: 70 },
        ],
      });
    const snapshot = (rig: SchedRig) => {
      const out: number[] = [];
      for (let v = 0; v < 8; v++) for (let i = 0; i < 8; i++) out.push(rig.vcpuStat(v, i));
      for (let p = 0; p < 3; p++) out.push(Number(rig.k.pcpuClock(p)));
      return out;
    };
    const a = make();
    a.run(300);
    const b = make();
    b.run(300);
    expect(snapshot(a)).toEqual(snapshot(b));
  });
});
