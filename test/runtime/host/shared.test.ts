// The data plane between a threaded host's threads (runtime/host/shared.ts).
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../../runtime/host/hypervisor.ts';
import { HostShared, SHARED_MAX_PARTITIONS } from '../../../runtime/host/shared.ts';

describe('host shared block', () => {
  it('hands every posted exit to the root once, lowest vCPU first, and rings the doorbell', () => {
    const s = new HostShared();
    const bell = s.doorbell();
    for (const v of [1023, 5, 64, 5, 31, 32, 0]) s.postExit(v);
    expect(s.doorbell()).toBe(bell + 7);
    expect(s.takeExits()).toEqual([0, 5, 31, 32, 64, 1023]);
    expect(s.takeExits()).toEqual([]);
  });

  it('sees the same exits and epochs from another view of the same buffer (another thread)', () => {
    const a = new HostShared();
    const b = new HostShared(a.buffer);
    a.setEpoch(7, 1234.5);
    b.postExit(42);
    expect(b.epoch(7)).toBe(1234.5);
    expect(a.takeExits()).toEqual([42]);
    a.shutdown();
    expect(b.shuttingDown).toBe(true);
  });

  it('has a clock epoch for every partition and an exit bit for every vCPU the kernel holds', () => {
    const { maxPartitions, maxVcpus } = new Hypervisor(1 << 20).kernel.layout;
    expect(SHARED_MAX_PARTITIONS).toBe(maxPartitions);
    const s = new HostShared();
    s.setEpoch(maxPartitions - 1, 42.5);
    expect(s.epoch(maxPartitions - 1)).toBe(42.5);
    s.postExit(maxVcpus - 1);
    expect(s.takeExits()).toEqual([maxVcpus - 1]);
  });

  it('wakes a waiting root when an exit is posted, and times out without one', async () => {
    const s = new HostShared();
    const seen = s.doorbell();
    const t0 = performance.now();
    await s.waitDoorbell(seen, 20);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
    const waiting = s.waitDoorbell(s.doorbell(), 10_000);
    setTimeout(() => s.postExit(3), 5);
    await waiting;
    expect(s.takeExits()).toEqual([3]);
  });
});
