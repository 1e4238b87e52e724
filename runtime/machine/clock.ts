// Time policy for a partition's mtime (the mechanism is the kernel's CLINT).
//
//  - realtime: mtime follows the host's monotonic clock at 10 MHz, as QEMU
//    does by default.
//  - icount: mtime = instructions retired / INSNS_PER_TICK (QEMU's -icount
//    with shift=0: 1 ns per instruction), plus any idle time skipped while
//    every hart waited in WFI. Deterministic: the same guest and input give
//    the same timer interrupts at the same instructions.

export const TICKS_PER_MS = 10_000; // 10 MHz timebase
export const INSNS_PER_TICK = 100;

export type ClockMode = 'realtime' | 'icount';

export interface GuestClock {
  readonly mode: ClockMode;
  /** Current mtime in ticks (before the guest's own mtime offset). */
  now(): number;
  /** Host milliseconds until mtime reaches `ticks` (0 if already there). */
  msUntil(ticks: number): number;
  /** icount only: jump forward to `ticks` while every hart idles. */
  skipTo(ticks: number): void;
}

export function realtimeClock(): GuestClock {
  const t0 = performance.now();
  const now = () => Math.floor((performance.now() - t0) * TICKS_PER_MS);
  return {
    mode: 'realtime',
    now,
    msUntil: (ticks) => Math.max(0, (ticks - now()) / TICKS_PER_MS),
    skipTo: () => {},
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
  };
}
