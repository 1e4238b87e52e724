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

/** Guest steps between two pre-copy rounds on the deterministic host (fewer when throttled). */
export const ROUND_STEPS = 10_000;

/**
 * The migration of a deterministic run's one guest, on this thread: while
 * it migrates, the guest runs only between rounds, ROUND_STEPS steps at a
 * time (less the auto-converge throttle), so every round falls on the same
 * step in every run and the dirty sets, the estimates (with a given link
 * rate) and the throttle are exact. The stop-and-copy happens at step N
 * (--migrate-after-insns), or, when asked, at the round that converged.
 */
export class DeterministicMigration {
  private running: Promise<MigrateInfo> | undefined;
  /** The migration has settled (moved or failed). */
  private settled = false;
  private reached = false;
  private ended: string | undefined;
  private throttle = 0;
  /** Quanta are this many times ROUND_STEPS: doubled while the guest idles past their end (see drive). */
  private stretch = 1;
  /** The steps the migration lets the guest run (between()), until the run reaches `end`. */
  private quantum: { end: number; done: () => void } | undefined;
  /** Wakes drive() when a quantum is asked for or the migration settles. */
  private wake: (() => void) | undefined;

  constructor(
    private readonly m: Machine,
    private readonly spec: PartitionSpec,
    private readonly target: MigrateTarget,
    private readonly o: { afterSteps?: number; maxInsns?: number; linkRate?: number },
    private readonly disks: readonly BlockDevice[],
  ) {}

  /** Starts pre-copying (once); a run in progress stops at its next step and goes on in rounds. */
  start(): void {
    if (this.running) return;
    const m = this.m;
    this.settled = false;
    this.throttle = 0;
    this.stretch = 1;
    m.limit(m.steps());
    this.running = migrateOut(
      this.target,
      {
        id: m.id, kernel: m.kernel.exports, memory: m.memory, ram: m.ram, spec: this.spec,
        shouldStop: (converged) => {
          // Asked (not at a fixed step): the guest waits between rounds; stop it there.
          if (converged && this.o.afterSteps === undefined) this.reached = true;
          return this.reached;
        },
        between: () =>
          new Promise<void>((done) => {
            const steps = Math.max(1, Math.round((ROUND_STEPS * this.stretch * (100 - this.throttle)) / 100));
            this.quantum = { end: m.steps() + steps, done };
            this.wake?.();
          }),
        cancelled: () => this.ended,
        pause: async () => {}, // the guest waits between rounds: nothing runs
        resume: async () => {},
        throttle: (percent) => {
          this.throttle = percent;
        },
        capture: () => captureState(m, this.spec, () => this.disks.forEach((d) => d.flush())),
        release: () => {
          m.result = { kind: 'migrated', to: `${this.target.host}:${this.target.port}` };
        },
      },
      { linkRate: this.o.linkRate, progress: (line) => process.stderr.write(`hv: migrating the guest to ${this.target.host}:${this.target.port}: ${line}\n`) },
    );
    const settle = () => {
      this.settled = true;
      this.wake?.();
    };
    this.running.then(settle, settle);
  }

  /** The next quantum the migration asks the guest to run, or undefined once it settled. */
  private nextQuantum(): Promise<{ end: number; done: () => void } | undefined> {
    return new Promise((resolve) => {
      this.wake = () => {
        if (!this.quantum && !this.settled) return;
        this.wake = undefined;
        resolve(this.quantum);
      };
      this.wake();
    });
  }

  /** Ends the quantum the guest was running (the migration's round goes on). */
  private endQuantum(): void {
    const q = this.quantum;
    this.quantum = undefined;
    q?.done();
  }

  /** Waits for the migration: true once the guest moved; after a failure it runs on here. */
  private async outcome(): Promise<boolean> {
    try {
      const info = await this.running!;
      process.stderr.write(describeMigration(info, `${this.target.host}:${this.target.port}`));
      return true;
    } catch (e) {
      if (!(e instanceof MigrationError)) throw e;
      process.stderr.write(`hv: ${e.message}; the guest runs on here\n`);
      this.running = undefined;
      this.reached = false;
      this.m.limit(this.o.maxInsns);
      return false;
    }
  }

  /** Runs the guest (`runOnce` until it stops) until it ends here or has moved. */
  async drive(runOnce: () => Promise<void>): Promise<void> {
    const m = this.m;
    if (this.o.afterSteps !== undefined) this.start();
    for (;;) {
      if (this.running) {
        const q = await this.nextQuantum();
        if (!q) {
          // Settled while the guest waited between rounds.
          if (await this.outcome()) return;
          continue;
        }
        m.limit(Math.min(q.end, this.o.afterSteps ?? Infinity, this.o.maxInsns ?? Infinity));
      }
      await runOnce();
      if (!this.running) return;
      const atLimit = m.result?.kind === 'insn-limit' && (this.o.maxInsns === undefined || m.steps() < this.o.maxInsns);
      if (atLimit && m.steps() !== this.o.afterSteps) {
        // The end of a quantum (or start() stopped the run): the next round.
        const end = this.quantum?.end;
        m.clearLimitResult();
        // Stopped inside an idle stretch, whose skip to the next timer the
        // clear undoes (a step limit inside it ends the run there): the next
        // quantum is twice as long, until one reaches past the timer.
        this.stretch = end !== undefined && m.steps() < end ? this.stretch * 2 : 1;
        this.endQuantum();
        continue;
      }
      if (atLimit) this.reached = true;
      else this.ended = `the guest ended (${m.result?.kind ?? 'timeout'}) before it moved`;
      this.endQuantum();
      if (await this.outcome()) return;
      if (!atLimit) return;
      m.clearLimitResult();
    }
  }
}
