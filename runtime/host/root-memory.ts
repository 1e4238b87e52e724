// The root partition's memory verbs (HostController): a partition's balloon
// target, swap-out now, the automatic balloon policy (balloon-policy.ts) on
// this thread's timer, and what the host's memory holds.
import { OvercommitError, sharingCounters, type BalloonStatus } from '../machine/overcommit.ts';
import { SwapError, type SwapCounters } from '../machine/swap.ts';
import { BalloonPolicy, type BalloonPolicyConfig, type PolicyPartition } from './balloon-policy.ts';
import { ControlError, type BalloonPolicyOptions, type HostMemoryStats } from './controller.ts';
import type { Root } from './root-partition.ts';

export class RootMemory {
  /** The automatic balloon policy, while switched on: it and its timer. */
  private policy: { policy: BalloonPolicy; timer: ReturnType<typeof setInterval> } | undefined;

  constructor(private readonly root: Root) {}

  async balloon(id: number, targetBytes: number): Promise<BalloonStatus> {
    const p = this.root.get(id);
    const oc = p.machine.overcommit;
    if (!oc) throw new ControlError(`partition ${p.spec.name} has no memory overcommit (and so no balloon)`);
    try {
      oc.setBalloonTarget(targetBytes);
    } catch (e) {
      if (e instanceof OvercommitError) throw new ControlError(`partition ${p.spec.name}: ${e.message}`);
      throw e;
    }
    return oc.balloonStatus()!;
  }

  async swapOut(id: number, pages: number): Promise<SwapCounters> {
    const p = this.root.get(id);
    const swap = p.machine.overcommit?.swap;
    if (!swap) throw new ControlError(`partition ${p.spec.name} has no swap file (overcommit.swap, hv run --swap DIR)`);
    if (!Number.isSafeInteger(pages) || pages < 0) throw new ControlError(`pages must be a whole number, got ${pages}`);
    if (p.state === 'finished') throw new ControlError(`partition ${p.spec.name} is finished`);
    try {
      swap.swapOut(pages); // on the root's thread, between exits: as the eviction driver
    } catch (e) {
      if (e instanceof SwapError) throw new ControlError(`partition ${p.spec.name}: ${e.message}`);
      throw e;
    }
    return swap.stats();
  }

  async balloonPolicy(options: BalloonPolicyOptions | null): Promise<BalloonPolicyConfig | null> {
    this.stopPolicy();
    if (!options) return null;
    const balloons = (): PolicyPartition[] =>
      [...this.root.parts].flatMap(([id, p]) => {
        const oc = p.machine.overcommit;
        if (p.state !== 'running' || !oc?.balloonStatus()) return [];
        return [{ id, ramBytes: p.spec.memory, balloonStatus: () => oc.balloonStatus(), setBalloonTarget: (b: number) => oc.setBalloonTarget(b) }];
      });
    const held = balloons().reduce((sum, p) => sum + p.balloonStatus()!.targetBytes, 0);
    if (options.budgetBytes === undefined && held === 0) {
      throw new ControlError('balloon policy: no running partition has a balloon to take its budget from (give budgetBytes)');
    }
    const config = {
      budgetBytes: options.budgetBytes ?? held,
      stepBytes: options.stepBytes ?? 16 << 20,
      ...(options.bufferPercent !== undefined ? { bufferPercent: options.bufferPercent } : {}),
    };
    const interval = options.intervalMs ?? 1000;
    if (!Number.isSafeInteger(interval) || interval < 10) throw new ControlError(`balloon policy: intervalMs must be at least 10, got ${interval}`);
    let policy: BalloonPolicy;
    try {
      policy = new BalloonPolicy(balloons, config);
    } catch (e) {
      if (e instanceof RangeError) throw new ControlError(e.message);
      throw e;
    }
    this.policy = { policy, timer: setInterval(() => policy.step(), interval) };
    return config;
  }

  /** Switches the balloon policy off (its timer would keep the thread alive). */
  stopPolicy(): void {
    if (this.policy) clearInterval(this.policy.timer);
    this.policy = undefined;
  }

  async hostMemory(): Promise<HostMemoryStats> {
    const k = this.root.hv.kernel;
    const sharing = sharingCounters(k);
    let vcpus = 0;
    let ramPages = sharing.pagesShared;
    // A finished partition holds its RAM until it is destroyed (the playground's finished cards).
    for (const { machine: m } of this.root.parts.values()) {
      vcpus += m.vcpuCount;
      ramPages += m.overcommit?.map().private ?? m.config.ramSize / 4096;
    }
    (globalThis as { gc?: () => void }).gc?.();
    const used = k.exports.framesUsed();
    return {
      poolBytes: (used + k.exports.framesAvailable()) * 4096,
      usedBytes: used * 4096,
      ramBytes: ramPages * 4096,
      vcpuBytes: vcpus * k.layout.vcpuSize + this.root.parts.size * k.layout.partSize,
      rootHeapBytes: typeof process === 'undefined' ? 0 : process.memoryUsage().heapUsed,
      sharing,
    };
  }
}
