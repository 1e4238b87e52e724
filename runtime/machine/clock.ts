// Time policy for a partition's mtime (the mechanism is the kernel's CLINT).
//
//  - realtime: mtime follows the host's monotonic clock at 10 MHz, as QEMU
//    does by default.
//  - icount: mtime = instructions retired / INSNS_PER_TICK (QEMU's -icount
//    with shift=0: 1 ns per instruction), plus any idle time skipped while
//    every hart waited in WFI. Deterministic: the same guest and input give
//    the same timer interrupts at the same instructions.
//  - sched: mtime follows the kernel scheduler's clock (schedNow: the pCPU's
//    time in instructions, idle time included) at INSNS_PER_TICK, for the
//    deterministic host that runs the kernel scheduler on one thread.

export const TICKS_PER_MS = 10_000; // 10 MHz timebase
export const INSNS_PER_TICK = 100;

export type ClockMode = 'realtime' | 'icount' | 'sched';

export interface GuestClock {
  readonly mode: ClockMode;
  /** realtime: the absolute host ms at which mtime read 0 (threads derive the same clock from it). */
  readonly epochMs?: number;
  /** Current mtime in ticks (before the guest's own mtime offset). */
  now(): number;
  /** Host milliseconds until mtime reaches `ticks` (0 if already there). */
  msUntil(ticks: number): number;
  /** icount only: jump forward to `ticks` while every hart idles. */
  skipTo(ticks: number): void;
  /**
   * Restore: the clock reads `ticks` now and runs on from there (a restored
   * partition's time continues where it was saved, as QEMU's vm clock does).
   * False if this clock cannot be set (sched: the scheduler's); the caller
   * moves the partition's mtime offset instead.
   */
  setNow(ticks: number): boolean;
}

/** Absolute host time in ms, comparable across threads (each has its own timeOrigin). */
export function hostNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** mtime ticks since `epochMs` (an absolute host time): the realtime clock on any thread. */
export function ticksSince(epochMs: number): number {
  return Math.floor((hostNowMs() - epochMs) * TICKS_PER_MS);
}

/** A realtime clock that read 0 at `epochMs` (absolute host ms; default: now). */
export function realtimeClock(epochMs = hostNowMs()): GuestClock {
  const now = () => ticksSince(epochMs);
  return {
    mode: 'realtime',
    get epochMs() {
      return epochMs;
    },
    now,
    msUntil: (ticks) => Math.max(0, (ticks - now()) / TICKS_PER_MS),
    skipTo: () => {},
    setNow: (ticks) => {
      epochMs = hostNowMs() - ticks / TICKS_PER_MS;
      return true;
    },
  };
}

export function icountClock(instret: () => number): GuestClock {
  let skipped = 0;
  const now = () => Math.floor(instret() / INSNS_PER_TICK) + skipped;
  return {
    mode: 'icount',
    now,
    msUntil: () => 0,
    skipTo: (ticks) => {
      const t = now();
      if (ticks > t) skipped += ticks - t;
    },
    setNow: (ticks) => {
      skipped = ticks - Math.floor(instret() / INSNS_PER_TICK);
      return true;
    },
  };
}

/** mtime from the kernel scheduler's clock (instructions, idle included): `insns` reads schedNow(). */
export function schedClock(insns: () => bigint): GuestClock {
  return {
    mode: 'sched',
    now: () => Number(insns() / BigInt(INSNS_PER_TICK)),
    msUntil: () => 0,
    skipTo: () => {}, // idle pCPUs move the scheduler's clocks themselves
    setNow: () => false,
  };
}

/**
 * A partition's clock of `mode` (default realtime). `exits`: its vCPUs run
 * on pCPU threads (the threaded host), where only the realtime clock is
 * the same on every thread.
 */
export function partitionClock(mode: ClockMode | undefined, exits: boolean, instret: () => number, schedNow: () => bigint): GuestClock {
  if (exits && mode !== undefined && mode !== 'realtime') {
    throw new RangeError(`a ${mode} clock needs the vCPUs on the board's thread (deterministic mode)`);
  }
  return mode === 'icount' ? icountClock(instret) : mode === 'sched' ? schedClock(schedNow) : realtimeClock();
}
