// The automatic balloon policy (issue 11, docs/memory.md): moves guest
// RAM toward the partitions under memory pressure, within what the host
// gives its guests, the way Hyper-V's Dynamic Memory balancer does with its
// "memory buffer".
//
// Each partition with a balloon (virtio-balloon or Dynamic Memory) reports
// how much of what it holds it could do without: virtio-balloon's
// availableMemory statistic, or DM_STATUS_REPORT's num_avail (both reach us
// as BalloonStatus.guestStats.availableMemory, in bytes). What it uses is
// what it holds (actualBytes) less that; what it should get is its use
// plus a buffer (bufferPercent of its use, Hyper-V's default 20%), never
// less than minBytes nor more than its RAM. If everyone's want fits the
// budget, each gets it; if not, each gets its floor plus a share of the rest
// in proportion to its want above the floor, so the partitions under most
// pressure lose least. Targets move at most stepBytes per step (a balloon
// inflating a whole guest at once would stall it), and a partition that has
// not reported yet keeps its target.
//
// plan() is pure (tests drive it with made-up figures); BalloonPolicy runs
// it over live partitions when step() is called (the root's timer, or a
// deterministic host's chosen points).
import type { BalloonStatus } from '../machine/overcommit.ts';

export interface BalloonPolicyConfig {
  /** Guest RAM the host can hold in all (bytes): the budget the targets share. */
  budgetBytes: number;
  /** Largest change of one partition's target in one step (bytes). */
  stepBytes: number;
  /** A partition never goes below this (bytes; default 16 MiB, or its RAM if less). */
  minBytes?: number;
  /** Headroom over what a guest uses, percent of its use (default 20, Hyper-V's memory buffer). */
  bufferPercent?: number;
}

/** One partition as the policy sees it. */
export interface PolicyInput {
  id: number;
  ramBytes: number;
  /** Its balloon's current target (RAM the guest should keep) and what it keeps. */
  targetBytes: number;
  actualBytes: number;
  /** Bytes it reports it could do without, or undefined before its first report. */
  availableBytes: number | undefined;
}

const PAGE = 4096;
const MIB = 1 << 20;
const pages = (bytes: number) => Math.floor(bytes / PAGE) * PAGE;

/** The next target of each partition (bytes, page aligned), by id. */
export function plan(parts: readonly PolicyInput[], c: BalloonPolicyConfig): Map<number, number> {
  const buffer = (c.bufferPercent ?? 20) / 100;
  const floorOf = (p: PolicyInput) => Math.min(p.ramBytes, c.minBytes ?? 16 * MIB);
  // A partition without a report wants what it has been given.
  const want = parts.map((p) => {
    if (p.availableBytes === undefined) return p.targetBytes;
    const used = Math.max(0, p.actualBytes - p.availableBytes);
    return Math.min(p.ramBytes, Math.max(floorOf(p), Math.ceil(used * (1 + buffer))));
  });
  const total = want.reduce((s, w) => s + w, 0);
  let goal = want;
  if (total > c.budgetBytes) {
    const floors = parts.map(floorOf);
    const floorSum = floors.reduce((s, f) => s + f, 0);
    const above = total - floorSum;
    const spare = Math.max(0, c.budgetBytes - floorSum);
    goal = want.map((w, i) => floors[i]! + (above > 0 ? ((w - floors[i]!) * spare) / above : 0));
  }
  const out = new Map<number, number>();
  parts.forEach((p, i) => {
    const delta = Math.max(-c.stepBytes, Math.min(c.stepBytes, goal[i]! - p.targetBytes));
    out.set(p.id, Math.min(p.ramBytes, pages(p.targetBytes + delta)));
  });
  return out;
}

/** A partition the policy may balloon: its balloon's status and the knob (Overcommit's). */
export interface PolicyPartition {
  id: number;
  ramBytes: number;
  balloonStatus(): BalloonStatus | undefined;
  setBalloonTarget(bytes: number): void;
}

/** The policy over live partitions: each step() reads their balloons and sets new targets where they move. */
export class BalloonPolicy {
  /** Targets set so far (steps that moved a target), for --stats and tests. */
  moves = 0;

  constructor(
    private readonly partitions: () => readonly PolicyPartition[],
    readonly config: BalloonPolicyConfig,
  ) {
    if (!(config.budgetBytes > 0) || !(config.stepBytes >= PAGE)) throw new RangeError('balloon policy: budgetBytes must be > 0 and stepBytes at least a page');
    const buffer = config.bufferPercent ?? 20;
    if (!(buffer >= 0 && buffer <= 1000)) throw new RangeError(`balloon policy: bufferPercent must be 0..1000, got ${buffer}`);
  }

  /** One step: returns the targets it changed, by partition id. */
  step(): Map<number, number> {
    const live = this.partitions().flatMap((p) => {
      const s = p.balloonStatus();
      return s ? [{ p, s }] : [];
    });
    const next = plan(
      live.map(({ p, s }) => ({
        id: p.id, ramBytes: p.ramBytes, targetBytes: s.targetBytes, actualBytes: s.actualBytes, availableBytes: s.guestStats.availableMemory,
      })),
      this.config,
    );
    const changed = new Map<number, number>();
    for (const { p, s } of live) {
      const t = next.get(p.id)!;
      if (t === s.targetBytes) continue;
      p.setBalloonTarget(t);
      changed.set(p.id, t);
      this.moves++;
    }
    return changed;
  }
}
