// `hv run --migrate-to HOST:PORT`: live migration of the guest of a run to
// an `hv serve` (docs/migration.md). After --migrate-after-insns N steps on
// the deterministic host (the stop-and-copy happens exactly at step N, so a
// migrated --icount run is the uninterrupted run), or when asked: Ctrl-A s
// or SIGUSR1. A migration that fails leaves the guest running here.
import type { BlockDevice } from '../../drivers/block/device.ts';
import type { PartitionSpec } from '../host/spec.ts';
import type { Machine } from '../machine/machine.ts';
import { MigrationError } from '../migrate/errors.ts';
import { migrateOut, type MigrateInfo, type MigrateTarget } from '../migrate/source.ts';
import { captureState } from '../persist/partition.ts';
import { UsageError } from './errors.ts';

/** HOST:PORT (HOST defaults to 127.0.0.1 when the text is a port alone). */
export function parseTarget(text: string, option = '--migrate-to'): MigrateTarget {
  const m = /^(?:(.+):)?(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new UsageError(`${option}: '${text}' is not HOST:PORT`);
  return { host: m[1] ?? '127.0.0.1', port };
}

export function describeMigration(info: MigrateInfo, to: string): string {
  return (
    `hv: migrated the guest to ${to}: ${info.rounds} rounds, ${(info.bytes / 2 ** 20).toFixed(1)} MiB sent, ` +
    `total ${info.totalMs.toFixed(0)} ms, downtime ${info.downtimeMs.toFixed(1)} ms` +
    ` (${info.downtimePhases.map(([name, ms]) => `${name} ${ms.toFixed(1)}`).join(', ')})` +
    (info.throttle ? `, throttled to ${100 - info.throttle}%` : '') + '\n'
  );
}

/**
 * The migration of a deterministic run's one guest: pre-copy rounds
 * between the guest's slices on this thread, stop-and-copy where the run
 * stops (step N, or a step limit set once the rounds converge).
 */
export class DeterministicMigration {
  private running: Promise<MigrateInfo> | undefined;
  private reached = false;
  private ended: string | undefined;

  constructor(
    private readonly m: Machine,
    private readonly spec: PartitionSpec,
    private readonly target: MigrateTarget,
    private readonly o: { afterSteps?: number; maxInsns?: number },
    private readonly disks: readonly BlockDevice[],
  ) {}

  /** Starts pre-copying (once). */
  start(): void {
    if (this.running) return;
    const m = this.m;
    this.running = migrateOut(this.target, {
      id: m.id, kernel: m.kernel.exports, memory: m.memory, ram: m.ram, spec: this.spec,
      shouldStop: (converged) => {
        // Asked (not at a fixed step): stop the run here once the rest fits the downtime.
        if (converged && this.o.afterSteps === undefined && !this.reached) m.limit(m.steps());
        return this.reached;
      },
      cancelled: () => this.ended,
      pause: async () => {}, // the run has stopped: nothing runs
      resume: async () => {},
      throttle: () => {}, // one thread runs guest and rounds in turn: the rounds are never outrun
      capture: () => captureState(m, this.spec, () => this.disks.forEach((d) => d.flush())),
      release: () => {
        m.result = { kind: 'migrated', to: `${this.target.host}:${this.target.port}` };
      },
    });
    this.running.catch(() => {}); // handled in drive()
  }

  /** Runs the guest (`runOnce` until it stops) until it ends here or has moved. */
  async drive(runOnce: () => Promise<void>): Promise<void> {
    const m = this.m;
    if (this.o.afterSteps !== undefined) this.start();
    for (;;) {
      await runOnce();
      if (!this.running) return;
      const atLimit = m.result?.kind === 'insn-limit' && (this.o.maxInsns === undefined || m.steps() < this.o.maxInsns);
      if (atLimit) this.reached = true;
      else this.ended = `the guest ended (${m.result?.kind ?? 'timeout'}) before it moved`;
      try {
        const info = await this.running;
        process.stderr.write(describeMigration(info, `${this.target.host}:${this.target.port}`));
        return;
      } catch (e) {
        if (!(e instanceof MigrationError)) throw e;
        process.stderr.write(`hv: ${e.message}; the guest runs on here\n`);
        this.running = undefined;
        if (!atLimit) return;
        m.clearLimitResult();
        m.limit(this.o.maxInsns);
        this.reached = false;
      }
    }
  }
}
