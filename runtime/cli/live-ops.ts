// What `hv run` does to a running guest on the deterministic host besides
// running it: live snapshots (--snapshot-dir DIR, at --snapshot-after-insns
// N or on Ctrl-A n / SIGUSR2) and storage migration (--move-disk PATH
// [--move-after-insns N]). The guest runs to the next step at which
// something is due, stops there at a step limit (so the operation sees a
// still partition), and runs on as if never stopped (Machine.clearLimitResult
// carries its round on): a guest snapshotted or moved at any step prints
// and ends exactly as an uninterrupted run.
import type { Machine } from '../machine/machine.ts';
import { takeSnapshot, type LiveDisks } from '../persist/snapshot.ts';
import { startDiskMove, type DiskMove } from '../storage/move.ts';
import { UsageError } from './errors.ts';

export interface LiveOptions {
  snapshot?: { dir: string; afterSteps: number[] };
  move?: { path: string; afterSteps: number };
}

/** Steps the guest runs between two chunks of a disk copy (a 64 KiB chunk, as QEMU's mirror granularity). */
export const MOVE_STEP_INSNS = 20_000;

export interface LiveRun {
  /** Ctrl-A n / SIGUSR2: a snapshot at the current step. */
  askSnapshot(): void;
  /** Runs the guest until its result (or a limit no operation stands for). */
  run(): Promise<void>;
}

export function liveRun(m: Machine, live: LiveDisks, limit: number | undefined, o: LiveOptions, runHost: () => Promise<void>): LiveRun {
  const snapAt = [...(o.snapshot?.afterSteps ?? [])].sort((a, b) => a - b);
  let asked = false;
  let moveAt = o.move?.afterSteps;
  let job: DiskMove | undefined;
  let nextChunk = Infinity;
  const log = (text: string) => process.stderr.write(`hv: ${text}\n`);
  const snapshot = () => {
    const { entry, info } = takeSnapshot(o.snapshot!.dir, m, live);
    log(`snapshot ${entry.id} of the guest at step ${entry.steps} in ${o.snapshot!.dir}: ${(info.bytes / 2 ** 20).toFixed(1)} MiB state in ${info.ms.toFixed(0)} ms; it runs on`);
  };
  const finishMove = () => {
    job!.finish();
    live.spec.disks[0] = { ...live.spec.disks[0]!, path: job!.path, format: job!.format };
    log(`disk 0 moved to ${job!.path} at step ${m.steps()} (${job!.mirror.mirroredWrites} guest writes mirrored)`);
    job = undefined;
    nextChunk = Infinity;
  };
  return {
    askSnapshot: () => {
      if (!o.snapshot || asked) return;
      asked = true;
      m.limit(m.steps());
    },
    run: async () => {
      for (;;) {
        m.limit(Math.min(limit ?? Infinity, snapAt[0] ?? Infinity, moveAt ?? Infinity, nextChunk));
        if (asked) m.limit(m.steps());
        await runHost();
        if (m.result?.kind !== 'insn-limit' || (limit !== undefined && m.steps() >= limit)) break;
        const now = m.steps();
        let due = false;
        if (asked || (snapAt[0] !== undefined && snapAt[0] <= now)) {
          while (snapAt[0] !== undefined && snapAt[0] <= now) snapAt.shift();
          asked = false;
          snapshot();
          due = true;
        }
        if (moveAt !== undefined && moveAt <= now) {
          moveAt = undefined;
          job = startDiskMove(live.disks[0]!, o.move!.path);
          nextChunk = now;
          due = true;
        }
        if (job && nextChunk <= now) {
          if (job.step()) finishMove();
          else nextChunk = now + MOVE_STEP_INSNS;
          due = true;
        }
        if (!due) break; // a stop asked for by someone else (Ctrl-A s)
        m.clearLimitResult();
      }
      // The guest ended during the copy: it completes, so the new file is whole.
      if (job) {
        while (!job.step());
        finishMove();
      }
    },
  };
}

/** The step counts of a repeatable option (--snapshot-after-insns N ...). */
export function stepCounts(values: readonly string[] | undefined, option: string): number[] {
  return (values ?? []).map((v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${option}: '${v}' is not a step count`);
    return n;
  });
}
