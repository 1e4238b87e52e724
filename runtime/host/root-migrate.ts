// The root partition's verbs that move a partition's state in or out
// (HostController): save to a file, live migration's source side
// (runtime/migrate/source.ts), which this keeps track of until settled, and
// the RAM a target reserves for an incoming partition (root.ts receive).
import { captureState, savePartition, type SaveInfo } from '../persist/partition.ts';
import { migrateOut, type MigrateInfo, type MigrateTarget } from '../migrate/source.ts';
import { ControlError } from './controller.ts';
import { InputError } from '../errors.ts';
import type { Root } from './root-partition.ts';
import { hotBlocks, specNow } from './vmbus-hotplug.ts';

export class RootMigration {
  /**
   * Outgoing live migrations not settled yet. The partition ends here at
   * the target's RDY (result 'migrated'), before GO is sent and DONE comes
   * back: a caller that closes the host on that result would otherwise cut
   * the migration off, and migrate() would never answer. RootPartition's
   * shutdown waits for them (settled()).
   */
  private readonly migrations = new Set<Promise<unknown>>();
  /** RAM reserved for incoming partitions (reserveRam), by host address: its size. */
  private readonly reservations = new Map<number, number>();

  constructor(private readonly root: Root) {}

  async save(id: number, path: string): Promise<SaveInfo> {
    const p = this.root.get(id);
    if (p.state !== 'paused') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not paused`);
    const m = p.machine;
    await this.root.quiesce(p);
    m.poll(); // console output and input of the SBI console
    let info: SaveInfo;
    try {
      info = savePartition(path, m, specNow(p.spec, m, p.hot), () => [...p.disks, ...hotBlocks(p.hot)].forEach((d) => d.flush()));
    } catch (e) {
      if (e instanceof InputError) throw new InputError(e.message);
      const code = (e as NodeJS.ErrnoException).code;
      throw new InputError(`cannot write save file '${path}': ${code ?? (e as Error).message}`);
    }
    this.root.finish(p, { kind: 'saved', path });
    return info;
  }

  async migrate(id: number, target: MigrateTarget, options: { maxDowntimeMs?: number; progress?: boolean; linkRate?: number } = {}): Promise<MigrateInfo> {
    const root = this.root;
    const p = root.get(id);
    if (p.state !== 'running') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not running`);
    // Live migration copies RAM as one host run; an overcommit partition's pages move (docs/memory.md).
    if (p.machine.overcommit) throw new ControlError(`partition ${p.spec.name} has memory overcommit, which live migration does not support yet`);
    const m = p.machine;
    const s = p.spec.sched;
    const where = `${target.host}:${target.port}`;
    const moving = migrateOut(
      target,
      {
        id, kernel: root.hv.kernel.exports, memory: m.memory, ram: m.ram, spec: specNow(p.spec, m, p.hot),
        shouldStop: (converged) => converged,
        cancelled: () => (p.state === 'running' || p.state === 'paused' ? undefined : `the guest ended (${m.result?.kind ?? p.state})`),
        pause: async () => {
          await root.pause(id);
          await root.quiesce(p);
          m.poll();
        },
        resume: () => root.resume(id),
        // Auto-converge: a cap of what is left of its vCPUs' time (and never above its own cap).
        throttle: (percent) => {
          let cap = percent ? Math.max(1, Math.round((m.vcpuCount * (100 - percent)))) : s.cap;
          if (percent && s.cap) cap = Math.min(cap, s.cap);
          root.sched.schedSetParams(id, s.weight, cap, Math.min(s.reservation, cap || s.reservation));
        },
        capture: () => captureState(m, specNow(p.spec, m, p.hot), () => [...p.disks, ...hotBlocks(p.hot)].forEach((d) => d.flush())),
        release: () => root.finish(p, { kind: 'migrated', to: where }),
      },
      { maxDowntimeMs: options.maxDowntimeMs, linkRate: options.linkRate, progress: options.progress ? (line) => process.stderr.write(`hv: migrating ${p.spec.name} to ${where}: ${line}\n`) : undefined },
    );
    const settled = moving.catch(() => {});
    this.migrations.add(settled);
    void settled.then(() => this.migrations.delete(settled));
    return moving;
  }

  async reserveRam(bytes: number): Promise<number> {
    if (!Number.isInteger(bytes) || bytes <= 0 || bytes % 4096) throw new ControlError(`RAM of ${bytes} bytes is not a whole number of pages`);
    const address = this.root.hv.reserveRam(bytes);
    this.reservations.set(address, bytes);
    return address;
  }

  async releaseRam(address: number): Promise<void> {
    const bytes = this.reservations.get(address);
    if (bytes === undefined) return; // taken over by receive(), or released already
    this.reservations.delete(address);
    this.root.hv.kernel.exports.framesFree(address, bytes / 4096);
  }

  /** Is `bytes` of RAM reserved at host address `address`? */
  reserved(address: number, bytes: number): boolean {
    return this.reservations.get(address) === bytes;
  }

  /** The RAM reserved at `address` belongs to a partition now: releaseRam leaves it. */
  takeReservation(address: number): void {
    this.reservations.delete(address);
  }

  /**
   * Resolves when every outgoing migration has answered. A migration
   * before its point of no return fails (its partition ended; at the
   * latest when RDY comes) and one past it finishes (GO, DONE).
   */
  async settled(): Promise<void> {
    await Promise.all(this.migrations);
  }
}
