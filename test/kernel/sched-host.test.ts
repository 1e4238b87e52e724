// The scheduler's conversation with its host: HOST exits, vCPUs blocked on
// the host (I/O) and woken, SBI HSM-stopped vCPUs, removal, parameters.
import { describe, expect, test } from 'vitest';
import { SchedExit, SState, VcpuStat } from '../../runtime/host/sched.ts';
import { SchedRig } from './sched-harness.ts';

describe('HOST exits', () => {
  test('a vCPU that needs the host comes back as the current vCPU of its pCPU', () => {
    // 1 ms = 1000 instructions: a few thousand round trips through the host.
    const rig = new SchedRig({ pcpus: 1, insnsPerMs: 1000, partitions: [{ guest: 'spin' }, { guest: 'spin' }] });
    // Every store to counters[0] of partition 0 hands control to the host (HTIF tohost).
    rig.k.partitionSetTohost(0, rig.symbolGpa(0, 'counters'));
    const until = BigInt(rig.ms(90));
    let exits = 0;
    let r: number;
    while ((r = rig.k.schedRunDeterministic(until, 1_000_000)) === SchedExit.HOST) {
      expect(rig.k.schedExitPcpu()).toBe(0);
      expect(rig.k.pcpuExitVcpu(0)).toBe(0);
      expect(rig.k.schedVcpuState(0)).toBe(SState.RUNNING);
      exits++;
    }
    expect(r).toBe(SchedExit.RAN);
    // One exit per loop iteration of partition 0's spinner, and it still got its half.
    expect(exits).toBe(Number(rig.peek(0, 'counters')));
    const a = rig.partRun(0), b = rig.partRun(1);
    expect(Math.abs(a / b - 1)).toBeLessThan(0.02);
  });

  test('schedBlock while the host services an exit parks the vCPU until schedWake', () => {
    const rig = new SchedRig({ pcpus: 1, partitions: [{ guest: 'spin' }, { guest: 'spin' }] });
    rig.k.partitionSetTohost(0, rig.symbolGpa(0, 'counters'));
    expect(rig.k.schedRunDeterministic(BigInt(rig.ms(30)), 1_000_000)).toBe(SchedExit.HOST);
    expect(rig.k.schedBlock(0)).toBe(1); // waits for "I/O"
    const count = rig.peek(0, 'counters');
    expect(rig.k.schedRunDeterministic(BigInt(rig.ms(60)), 1_000_000)).toBe(SchedExit.RAN);
    expect(rig.k.schedVcpuState(0)).toBe(SState.BLOCKED);
    expect(rig.peek(0, 'counters')).toBe(count);
    expect(rig.k.schedWake(0)).toBe(1);
    expect(rig.k.schedRunDeterministic(BigInt(rig.ms(62)), 1_000_000)).toBe(SchedExit.HOST);
    expect(rig.peek(0, 'counters')).toBe(count + 1n);
    expect(rig.vcpuStat(0, VcpuStat.BOOSTED)).toBeGreaterThanOrEqual(1);
  });

  test('an interrupt raised for a vCPU waiting on the host (schedWakeIrq) leaves it waiting until the service ends with schedWake', () => {
    // A device raises vCPU 0's line while the root has not yet serviced its
    // exit: before and after the vCPU is parked. Woken there, it would run
    // the abandoned instruction again and make a second exit that the
    // service's schedWake would end unserviced.
    const rig = new SchedRig({ pcpus: 1, partitions: [{ guest: 'spin' }, { guest: 'spin' }] });
    rig.k.partitionSetTohost(0, rig.symbolGpa(0, 'counters'));
    expect(rig.k.schedRunDeterministic(BigInt(rig.ms(30)), 1_000_000)).toBe(SchedExit.HOST);
    expect(rig.k.schedWakeIrq(0)).toBe(0); // still RUNNING: noted for a WFI block only
    expect(rig.k.schedBlock(0)).toBe(1);
    expect(rig.k.schedWakeIrq(0)).toBe(0); // BLOCKED on I/O: not woken
    const count = rig.peek(0, 'counters');
    expect(rig.k.schedRunDeterministic(BigInt(rig.ms(60)), 1_000_000)).toBe(SchedExit.RAN);
    expect(rig.k.schedVcpuState(0)).toBe(SState.BLOCKED);
    expect(rig.peek(0, 'counters')).toBe(count);
    expect(rig.k.schedWake(0)).toBe(1);
    expect(rig.k.schedRunDeterministic(BigInt(rig.ms(62)), 1_000_000)).toBe(SchedExit.HOST);
    expect(rig.peek(0, 'counters')).toBe(count + 1n);
  });
});

describe('wake-ups from another thread', () => {
  test('a vCPU woken with BOOST while another runs on its pCPU runs at once: the running chunk ends at the next instruction', () => {
    // vCPU 0 (a spinner) waits on the host; vCPU 1 (the gamer, patched never
    // to sleep: it reads the time in a tight loop) runs alone on the pCPU,
    // in chunks that end at the 1 ms polls. Mid-chunk, as the root partition
    // would from its thread, the test wakes vCPU 0 (from the time read).
    let wakeAt: bigint | undefined;
    let armed = false;
    const rig: SchedRig = new SchedRig({
      pcpus: 1,
      partitions: [{ guest: 'spin' }, { guest: 'gamer', patch: { tick_ticks: 1n << 40n, guard_ticks: 0n } }],
      onClock: (now) => {
        if (!armed || wakeAt !== undefined || rig.k.schedVcpuState(1) !== SState.RUNNING) return;
        if (now % BigInt(rig.ms(1)) < BigInt(rig.ms(1) / 2)) return; // mid-chunk
        wakeAt = now;
        expect(rig.k.schedWake(0)).toBe(1);
      },
    });
    rig.run(40); // both ran, an accounting gave both credit
    rig.k.schedBlock(0);
    rig.run(45);
    expect(rig.k.schedVcpuState(0)).toBe(SState.BLOCKED);
    const { next } = rig.trace(0);
    armed = true;
    rig.run(50);
    expect(wakeAt).toBeDefined();
    const runs = rig.trace(0, next).entries;
    const i = runs.findIndex((e) => e.start <= wakeAt! && wakeAt! < e.start + BigInt(e.length));
    expect(runs[i]!.vcpu).toBe(1);
    // The gamer's run ended right after the instruction that woke vCPU 0
    // (without the preemption it ran on to the poll, up to 1 ms later)...
    expect(Number(runs[i]!.start + BigInt(runs[i]!.length) - wakeAt!)).toBeLessThanOrEqual(2);
    // ...and vCPU 0 ran next.
    expect(runs[i + 1]!.vcpu).toBe(0);
  });
});

describe('SBI HSM stopped vCPUs', () => {
  test('a stopped vCPU takes no CPU, and runs again once it is RUNNABLE', () => {
    const rig = new SchedRig({ pcpus: 1, partitions: [{ guest: 'spin', vcpus: 2 }] });
    rig.k.vcpuStop(1);
    rig.run(300);
    expect(rig.vcpuStat(1, VcpuStat.RUN)).toBe(0);
    expect(rig.vcpuStat(0, VcpuStat.RUN)).toBe(rig.ms(300));
    expect(rig.k.schedVcpuState(1)).toBe(SState.BLOCKED);
    rig.setVcpuState(1, 1); // what SBI hart_start publishes: RUNNABLE
    rig.run(300);
    expect(rig.vcpuStat(1, VcpuStat.WAKES)).toBe(1);
    const a = rig.vcpuStat(0, VcpuStat.RUN) - rig.ms(300);
    const b = rig.vcpuStat(1, VcpuStat.RUN);
    expect(a + b).toBe(rig.ms(300));
    expect(b).toBeGreaterThan(rig.ms(100));
  });
});

describe('blocking on the host', () => {
  test('schedBlock keeps a vCPU off the pCPUs until schedWake, which boosts it', () => {
    const rig = new SchedRig({ pcpus: 1, partitions: [{ guest: 'spin' }, { guest: 'spin' }] });
    rig.run(60);
    expect(rig.k.schedBlock(0)).toBe(1);
    const before = rig.vcpuStat(0, VcpuStat.RUN);
    rig.run(100);
    expect(rig.vcpuStat(0, VcpuStat.RUN)).toBe(before);
    expect(rig.k.schedVcpuState(0)).toBe(SState.BLOCKED);
    expect(rig.k.schedWake(0)).toBe(1);
    expect(rig.k.schedWake(0)).toBe(0); // already runnable
    rig.run(12);
    expect(rig.vcpuStat(0, VcpuStat.RUN)).toBeGreaterThan(before);
    expect(rig.vcpuStat(0, VcpuStat.WAKES)).toBe(1);
    expect(rig.vcpuStat(0, VcpuStat.WAKE_LAT_MAX)).toBeLessThanOrEqual(rig.ms(10));
  });

  test('a removed vCPU stops running; parameters are validated', () => {
    const rig = new SchedRig({ pcpus: 2, partitions: [{ guest: 'spin', vcpus: 2 }] });
    rig.run(30);
    expect(rig.k.schedRemoveVcpu(1)).toBe(1);
    rig.run(1);
    expect(rig.k.schedVcpuState(1)).toBe(SState.NONE);
    const before = rig.vcpuStat(1, VcpuStat.RUN);
    rig.run(60);
    expect(rig.vcpuStat(1, VcpuStat.RUN)).toBe(before);
    expect(rig.k.schedRemoveVcpu(1)).toBe(0);
    expect(rig.k.schedAddVcpu(0, -1)).toBe(0); // already managed
    expect(rig.k.schedSetParams(0, 70000, 0, 0)).toBe(0);
    expect(rig.k.schedSetParams(0, 256, 50, 60)).toBe(0); // reservation above the cap
    expect(rig.k.schedSetParams(0, 256, 50, 50)).toBe(1);
  });
});
