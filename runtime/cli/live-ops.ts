// What `hv run` does to a running guest on the deterministic host besides
// running it: live snapshots (--snapshot-dir DIR, at --snapshot-after-insns
// N or on Ctrl-A n / SIGUSR2) and storage migration (--move-disk [N=]PATH
// [--move-after-insns N]). The guest runs to the next step at which
// something is due, stops there at a step limit (so the operation sees a
// still partition), and runs on as if never stopped (Machine.clearLimitResult
// carries its round on): a guest snapshotted or moved at any step prints
// and ends exactly as an uninterrupted run. (On the threaded host the
// same operations are HostController calls: partitions.ts runThreaded.)
import type { HostController } from '../host/controller.ts';
import type { Machine } from '../machine/machine.ts';
import { takeSnapshot, type LiveDisks } from '../persist/snapshot.ts';
import { startDiskMove, type DiskMove } from '../storage/move.ts';
import { UsageError } from './errors.ts';

export interface LiveOptions {
  snapshot?: { dir: string; afterSteps: number[] };
  /** Disk `disk` to a new image `path`; after `afterSteps` steps on the deterministic host, at once on the threaded one. */
  move?: { disk: number; path: string; afterSteps?: number };
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
  let moveAt = o.move && (o.move.afterSteps ?? 1);
  let job: DiskMove | undefined;
  let nextChunk = Infinity;
  const log = (text: string) => process.stderr.write(`hv: ${text}\n`);
  const snapshot = () => {
    const { entry, info } = takeSnapshot(o.snapshot!.dir, m, live);
    log(describeSnapshot({ ...info, id: entry.id, steps: entry.steps }, o.snapshot!.dir));
  };
  const moved = (failure?: unknown) => {
    log(failure === undefined ? describeMove({ ...job!, mirroredWrites: job!.mirror.mirroredWrites }, `at step ${m.steps()}`) : moveFailed(job!, failure));
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
          job = startDiskMove(live, o.move!.disk, o.move!.path);
          nextChunk = now;
          due = true;
        }
        if (job && nextChunk <= now) {
          try {
            if (job.step()) {
              job.finish();
              moved();
            } else {
              nextChunk = now + MOVE_STEP_INSNS;
            }
          } catch (e) {
            job.abort(); // the new image failed a write: the guest stays on the old one
            moved(e);
          }
          due = true;
        }
        if (!due) break; // a stop asked for by someone else (Ctrl-A s)
        m.clearLimitResult();
      }
      // The guest ended during the copy: it completes, so the new file is whole.
      if (job) {
        try {
          job.complete();
          moved();
        } catch (e) {
          job.abort();
          moved(e);
        }
      }
    },
  };
}

export interface ThreadedLive {
  /** Ctrl-A n / SIGUSR2 (with --snapshot-dir): a snapshot now; the guest runs on. */
  askSnapshot?: () => void;
  /** Starts --move-disk (once the partition runs). */
  startMove(): void;
  /** Resolves once the operations under way have ended, their lines logged. */
  settled(): Promise<void>;
}

/** The same operations on the threaded host, through its control plane, on partition `id`. */
export function threadedLive(h: HostController, id: number, o: LiveOptions): ThreadedLive {
  const log = (text: string) => void process.stderr.write(`hv: ${text}\n`);
  const pending = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const snap = o.snapshot;
  let snapping = false;
  return {
    askSnapshot: snap && (() => {
      if (snapping) return;
      snapping = true;
      track(
        h.snapshot(id, snap.dir).then(
          (s) => log(describeSnapshot(s, snap.dir)),
          (e: Error) => log(`cannot take a snapshot: ${e.message}; the guest runs on`),
        ).finally(() => (snapping = false)),
      );
    }),
    startMove: () => {
      const move = o.move;
      if (!move) return;
      track(h.moveDisk(id, move.disk, move.path).then((info) => log(describeMove(info)), (e: Error) => log(moveFailed(move, e))));
    },
    settled: async () => {
      while (pending.size) await Promise.all(pending);
    },
  };
}

// What both hosts log of an operation (the tests read these lines).

export function describeSnapshot(s: { id: string; steps: number; bytes: number; ms: number }, dir: string): string {
  return `snapshot ${s.id} of the guest at step ${s.steps} in ${dir}: ${(s.bytes / 2 ** 20).toFixed(1)} MiB state in ${s.ms.toFixed(0)} ms; it runs on`;
}

export function describeMove(m: { disk: number; path: string; mirroredWrites: number }, when?: string): string {
  return `disk ${m.disk} moved to ${m.path}${when ? ` ${when}` : ''} (${m.mirroredWrites} guest writes mirrored)`;
}

/** A move that failed: the guest stays on its disk. */
export function moveFailed(m: { disk: number; path: string }, e: unknown): string {
  return `cannot move disk ${m.disk} to ${m.path}: ${(e as Error)?.message ?? e}; the guest stays on its disk`;
}

/** --move-disk [N=]PATH: the disk index (default 0) and the new image. A path that starts with digits and = is written ./N=... */
export function moveDiskOption(text: string): { disk: number; path: string } {
  const m = /^(\d+)=(.*)$/.exec(text);
  if (!m) return { disk: 0, path: text };
  const disk = Number(m[1]);
  if (!Number.isSafeInteger(disk) || m[2] === '') throw new UsageError(`--move-disk: '${text}' is not N=PATH`);
  return { disk, path: m[2]! };
}

/** The step counts of a repeatable option (--snapshot-after-insns N ...). */
export function stepCounts(values: readonly string[] | undefined, option: string): number[] {
  return (values ?? []).map((v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${option}: '${v}' is not a step count`);
    return n;
  });
}
