// A partition's steps, what --max-insns bounds, and its place in the
// deterministic round-robin (the Hypervisor's rounds over its vCPUs):
// steps are instructions retired, traps taken and idle time in WFI
// (INSNS_PER_TICK per mtime tick), so a guest that retires nothing still
// comes to its limit. A partition saved at a step limit in the middle of a
// round continues the same rounds when restored (Machine.persistState).
import { Exit } from '../host/kernel.ts';
import { INSNS_PER_TICK, type GuestClock } from './clock.ts';
import type { RoundPosition } from './types.ts';
import type { VcpuView } from './vcpu-view.ts';

export class StepAccount {
  /** --max-insns: the steps this guest may take. */
  private maxSteps = Infinity;
  /** Steps of idle time: every hart waiting in WFI. */
  private idleSteps = 0;
  /** Guest clock (ticks) when the harts were last seen all idle (realtime and sched clocks). */
  private idleSince: number | undefined;
  /**
   * The round's position: each vCPU's slice this round, the last vCPU that
   * ran, idle steps counted but not skipped, and where a restored run starts.
   */
  private readonly slices: ({ full: number; start: number } | undefined)[] = [];
  private lastRun: { vcpu: number; used: number; full: number; exit: number } | undefined;
  private partialIdle = 0;
  private resumeAt: RoundPosition | undefined;

  /** `limitHit` ends the guest's run with a step-limit result when an idle skip reaches the limit. */
  constructor(
    private readonly harts: readonly VcpuView[],
    private readonly clock: GuestClock,
    private readonly limitHit: () => void,
  ) {}

  /** Stops the guest after `maxSteps` steps (undefined: no limit). */
  limit(maxSteps: number | undefined): void {
    this.maxSteps = maxSteps ?? Infinity;
  }

  steps(): number {
    let n = this.idleSteps;
    for (const h of this.harts) n += h.steps;
    return n;
  }

  beforeRound(): void {
    this.lastRun = undefined;
  }

  /** vCPU `i`'s budget this round for the caller's `slice` (Guest.budget). */
  budget(i: number, slice: number): number {
    // A restored partition first finishes the round it was saved in.
    let full = slice;
    const r = this.resumeAt;
    if (r) {
      if (i < r.vcpu) return 0;
      if (i === r.vcpu && r.left !== undefined) full = r.left;
    }
    this.slices[i] = { full, start: this.harts[i]!.steps };
    if (this.maxSteps === Infinity) return full;
    return Math.min(full, Math.max(0, this.maxSteps - this.steps()));
  }

  roundCarried(): boolean {
    return this.resumeAt?.ran === true;
  }

  /** vCPU `i` returned `exit` from its slice. */
  ran(i: number, exit: number): void {
    const slice = this.slices[i];
    if (slice) this.lastRun = { vcpu: i, used: this.harts[i]!.steps - slice.start, full: slice.full, exit };
  }

  /** The round is over: a restored run's first round with it. */
  roundOver(): void {
    this.resumeAt = undefined;
  }

  /** At a round's end: has the guest taken its steps? (Realtime and sched clocks count the idle time first.) */
  limitReached(): boolean {
    if (this.maxSteps === Infinity) return false;
    if (this.clock.mode !== 'icount') this.countIdle();
    return this.steps() >= this.maxSteps;
  }

  /**
   * Realtime and scheduler clocks: guest time that passes while every hart
   * waits in WFI counts as steps (icount counts it where it skips, in idleMs).
   */
  private countIdle(): void {
    if (!this.harts.every((h) => !h.runnable || h.inWfi)) {
      this.idleSince = undefined;
      return;
    }
    const now = this.clock.now();
    if (this.idleSince !== undefined) this.idleSteps += Math.max(0, now - this.idleSince) * INSNS_PER_TICK;
    this.idleSince = now;
  }

  /** Every hart idles until guest time `next` (Infinity: no timer): host ms to wait (Guest.idleMs). */
  idleMs(next: number): number {
    if (this.clock.mode === 'icount') {
      // Idle time is skipped, and counts as steps: to the next timer, or,
      // with none set, for ever (nothing but input could wake the guest), so
      // a step limit ends the run here.
      if (this.maxSteps !== Infinity) {
        const left = this.maxSteps - this.steps();
        const ticks = next === Infinity ? Infinity : Math.max(0, next - this.clock.now());
        if (ticks * INSNS_PER_TICK >= left) {
          this.idleSteps += left;
          this.partialIdle = left; // not skipped yet: a restored run skips it again
          this.limitHit();
          return 0;
        }
        this.idleSteps += ticks * INSNS_PER_TICK;
      }
      if (next === Infinity) return Infinity; // only input can wake it: the host waits for some
      this.clock.skipTo(next);
      return 0;
    }
    return this.clock.msUntil(next);
  }

  /**
   * Where the round stopped by a step limit (`limited`: the guest's result
   * is one) goes on (null: at the next round): inside a vCPU's slice, or
   * at the next vCPU. Not when stopped while idle: that round is over.
   */
  limitRound(limited: boolean): RoundPosition | null {
    const l = this.lastRun;
    if (!limited || this.partialIdle !== 0 || !l) return null;
    if (l.exit === Exit.BUDGET && l.used < l.full) return { vcpu: l.vcpu, left: l.full - l.used, ran: true };
    if (l.vcpu + 1 < this.harts.length) return { vcpu: l.vcpu + 1, ran: true };
    return null;
  }

  /** Idle steps for a save: those skipped (a partial skip comes again when restored). */
  savedIdleSteps(): number {
    return this.idleSteps - this.partialIdle;
  }

  /** A restored partition's steps and round position. */
  load(idleSteps: number, round: RoundPosition | null): void {
    this.idleSteps = idleSteps;
    this.resumeAt = round ?? undefined;
  }

  /** The step limit's result is forgotten: the round goes on as if never stopped. */
  clearLimit(): void {
    this.resumeAt = this.limitRound(true) ?? undefined;
    this.idleSteps -= this.partialIdle; // the skip it stood for comes when the harts next idle
    this.partialIdle = 0;
  }
}
