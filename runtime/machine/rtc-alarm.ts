// The RTC alarm on a host timer, on the thread that owns the board (the
// RTC's clock is the host's wall clock, as QEMU's default rtc_clock=host):
// the alarm interrupts when it is due, not when the guest next touches the
// RTC. The timer does not keep the process alive.
import { systemClock } from '../../drivers/emulated/goldfish_rtc.ts';

export class RtcAlarmTimer {
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** `fire` raises the alarm (the RTC's poll); `stopped` says the guest has finished (no alarm then). */
  constructor(
    private readonly fire: () => void,
    private readonly stopped: () => boolean,
  ) {}

  /** Sets the alarm for host time `deadlineNs` (null: none). */
  schedule(deadlineNs: bigint | null): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (deadlineNs === null) return;
    const ms = Math.min(2 ** 31 - 1, Math.max(0, Math.ceil(Number(deadlineNs - systemClock.nowNs()) / 1e6)));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped()) return;
      // Timers may fire a little early: wait out the rest.
      if (systemClock.nowNs() < deadlineNs) this.schedule(deadlineNs);
      else this.fire();
    }, ms);
    this.timer.unref?.();
  }
}
