// The root partition's data plane: one loop on its thread that services the
// VM exits pCPUs post (shared.ts), serves the VMBus signals guests ring
// without exits (vmbus-signals.ts), polls the partitions' consoles and runs
// page sharing's scanner; when there is nothing to do it watches the
// doorbells for a moment, then sleeps on them.
import type { VmbusHost } from '../../drivers/vmbus/host.ts';
import type { Partition } from './root-partition.ts';
import type { HostShared } from './shared.ts';
import { VmbusSignals } from './vmbus-signals.ts';

/** How long the root watches for the next exit before sleeping (ms). */
const SPIN_MS = 0.05;
/**
 * Page sharing's scanner (kernel/mm/share-scan.ts) runs on this thread, as
 * KSM's defaults: 100 pages every 20 ms. Here, not on idle pCPU threads,
 * because this thread performs every host-side write into guest RAM (device
 * DMA): a merge cannot race one (docs/memory.md).
 */
const SCAN_MS = 20;
const SCAN_PAGES = 100;

export interface LoopHost {
  readonly shared: HostShared;
  readonly parts: ReadonlyMap<number, Partition>;
  /** Services the exit vCPU `v` (global index) posted, and wakes it or ends its partition. */
  service(v: number): void;
  /** Sends the consoles' output polled so far. */
  flushConsoles(): void;
  /** One slice of page sharing's scanner over `pages` pages. */
  shareScan(pages: number): void;
}

export class ServiceLoop {
  private closed = false;
  private lastPoll = 0;
  private lastScan = 0;
  private readonly signals = new VmbusSignals();
  private readonly done: Promise<void>;

  constructor(private readonly host: LoopHost) {
    this.done = this.run();
  }

  /** Ends the loop after its current turn. */
  async stop(): Promise<void> {
    this.closed = true;
    this.host.shared.postExit(0); // wakes the loop so that it sees `closed`
    await this.done;
  }

  /**
   * Console input and output of every live partition. Output goes out in
   * batches (every 10 ms, and before the loop sleeps): a message per exit of
   * a guest printing a byte at a time would cost more than the exits.
   */
  private pollAll(): void {
    this.lastPoll = performance.now();
    for (const p of this.host.parts.values()) if (p.state === 'running' || p.state === 'paused') p.machine.poll();
    this.host.flushConsoles();
  }

  /** The VMBus of each running partition: its vCPUs signal channels without exits (vmbus-signals.ts). */
  private vmbusHosts(): VmbusHost[] {
    const out: VmbusHost[] = [];
    for (const p of this.host.parts.values()) if (p.state === 'running' && p.machine.vmbus) out.push(p.machine.vmbus);
    return out;
  }

  private async run(): Promise<void> {
    const shared = this.host.shared;
    const exits: number[] = [];
    let lastYield = performance.now();
    while (!this.closed) {
      const seen = shared.doorbell();
      exits.length = 0;
      for (const v of shared.takeExits(exits)) this.host.service(v);
      const signalled = this.signals.serve(this.vmbusHosts());
      const now = performance.now();
      if (now - this.lastPoll >= 10) this.pollAll();
      if (now - this.lastScan >= SCAN_MS) this.scanTick(now);
      if (exits.length === 0 && !signalled) {
        // A vCPU that just had an exit serviced often has the next one soon
        // (a driver polling a status register): watch the doorbell for a
        // moment before sleeping, as a waking thread costs far more.
        const hosts = this.vmbusHosts();
        if (!shared.spinDoorbell(seen, SPIN_MS, () => this.signals.rang(hosts))) {
          this.pollAll();
          await Promise.race([shared.waitDoorbell(seen, 10), ...this.signals.waits(hosts, 10)]);
          lastYield = performance.now();
          continue;
        }
      }
      // Busy: the control plane, sockets and timers of this thread (a live
      // migration's) still get a turn every 2 ms. A spin that found work is
      // no turn: a guest whose next exit always came within the spin (a
      // driver polling a register) held them off for hundreds of ms.
      if (performance.now() - lastYield >= 2) {
        await new Promise<void>((r) => setImmediate(r));
        lastYield = performance.now();
      }
    }
  }

  /** One scanner slice when any partition shares pages. */
  private scanTick(now: number): void {
    this.lastScan = now;
    for (const p of this.host.parts.values()) {
      if (p.machine.overcommit && p.state !== 'finished') {
        this.host.shareScan(SCAN_PAGES);
        return;
      }
    }
  }
}
