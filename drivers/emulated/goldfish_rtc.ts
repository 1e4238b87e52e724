// Goldfish RTC ("google,goldfish-rtc"; QEMU hw/rtc/goldfish_rtc.c, Android
// GOLDFISH-VIRTUAL-HARDWARE.TXT). A 64-bit nanosecond counter since the Unix
// epoch plus one alarm, 32-bit registers only:
//
//   0x00 TIME_LOW        r: low word of now, latches the high word   w: set low word
//   0x04 TIME_HIGH       r: the latched high word                    w: set high word
//   0x08 ALARM_LOW       r/w; a write arms the alarm at ALARM_HIGH:ALARM_LOW
//   0x0c ALARM_HIGH      r/w; write it first
//   0x10 IRQ_ENABLED     r/w bit 0
//   0x14 CLEAR_ALARM     w: disarm
//   0x18 ALARM_STATUS    r: 1 while armed
//   0x1c CLEAR_INTERRUPT w: drop the interrupt
//
// The interrupt line is irq_pending && irq_enabled. Setting the time only
// moves an offset against the host clock, so the host clock is never changed.
// The device owns no timer (deterministic mode derives time from instruction
// counts): the alarm is checked on every access and on poll(), and
// onAlarmScheduled tells the runtime when it should call poll().

import { MEMMAP } from '../board/memmap.ts';
import { type AccessSize, bigintField, boolField, type IrqLine, type MmioDevice, uintField } from './device.ts';

export const RTC_TIME_LOW = 0x00;
export const RTC_TIME_HIGH = 0x04;
export const RTC_ALARM_LOW = 0x08;
export const RTC_ALARM_HIGH = 0x0c;
export const RTC_IRQ_ENABLED = 0x10;
export const RTC_CLEAR_ALARM = 0x14;
export const RTC_ALARM_STATUS = 0x18;
export const RTC_CLEAR_INTERRUPT = 0x1c;

/** A source of wall-clock time in nanoseconds since the Unix epoch. */
export interface Clock {
  nowNs(): bigint;
}

/** The host's wall clock, with sub-millisecond resolution where the platform has it. */
export const systemClock: Clock = {
  nowNs(): bigint {
    const origin = performance.timeOrigin;
    const whole = Math.floor(origin);
    return BigInt(whole) * 1_000_000n + BigInt(Math.round((origin - whole + performance.now()) * 1e6));
  },
};

export interface GoldfishRtcOptions {
  irq?: IrqLine;
  clock?: Clock;
  /** Called with the host-clock time (ns) at which poll() should run next, or null when disarmed. */
  onAlarmScheduled?: (hostDeadlineNs: bigint | null) => void;
}

const U64 = (1n << 64n) - 1n;
const LOW = 0xffff_ffffn;

export class GoldfishRtc implements MmioDevice {
  readonly name = 'rtc';
  readonly stateVersion = 1;
  readonly size = MEMMAP.rtc.size;

  private readonly clock: Clock;
  private readonly irq: IrqLine;
  private readonly onAlarmScheduled: (deadline: bigint | null) => void;

  /** Guest time = host clock + offset (mod 2^64). */
  private offset = 0n;
  private timeHigh = 0;
  private alarmNext = 0n;
  private alarmRunning = false;
  private irqPending = false;
  private irqEnabled = false;
  private line = false;

  constructor(options: GoldfishRtcOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.irq = options.irq ?? (() => {});
    this.onAlarmScheduled = options.onAlarmScheduled ?? (() => {});
  }

  /** Current guest time in ns since the epoch. */
  now(): bigint {
    return (this.clock.nowNs() + this.offset) & U64;
  }

  read(offset: number, size: AccessSize): number {
    if (size !== 4) return 0; // QEMU: 4-byte accesses only
    this.poll();
    switch (offset) {
      case RTC_TIME_LOW: {
        const t = this.now();
        this.timeHigh = Number(t >> 32n);
        return Number(t & LOW);
      }
      case RTC_TIME_HIGH:
        return this.timeHigh;
      case RTC_ALARM_LOW:
        return Number(this.alarmNext & LOW);
      case RTC_ALARM_HIGH:
        return Number(this.alarmNext >> 32n);
      case RTC_IRQ_ENABLED:
        return this.irqEnabled ? 1 : 0;
      case RTC_ALARM_STATUS:
        return this.alarmRunning ? 1 : 0;
      default:
        return 0;
    }
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (size !== 4) return;
    const v = BigInt(value >>> 0);
    switch (offset) {
      case RTC_TIME_LOW:
        this.setTime((this.now() & ~LOW & U64) | v);
        break;
      case RTC_TIME_HIGH:
        this.setTime((this.now() & LOW) | (v << 32n));
        break;
      case RTC_ALARM_LOW:
        this.alarmNext = (this.alarmNext & ~LOW & U64) | v;
        this.arm();
        break;
      case RTC_ALARM_HIGH:
        this.alarmNext = (this.alarmNext & LOW) | (v << 32n);
        break;
      case RTC_IRQ_ENABLED:
        this.irqEnabled = (value & 1) === 1;
        break;
      case RTC_CLEAR_ALARM:
        this.disarm();
        break;
      case RTC_CLEAR_INTERRUPT:
        this.irqPending = false;
        break;
      default:
        return;
    }
    this.poll(true);
  }

  /**
   * Fires the alarm if its time has come; updates the interrupt line. The
   * line is driven (a PLIC request if high: device.ts, IrqLine) when the alarm
   * fires and after every register write, as QEMU's goldfish_rtc_update is
   * called; reads and idle polls only drive a change.
   */
  poll(drive = false): void {
    let fired = false;
    if (this.alarmRunning && this.now() >= this.alarmNext) {
      this.alarmRunning = false;
      this.irqPending = true;
      this.onAlarmScheduled(null);
      fired = true;
    }
    this.updateIrq(drive || fired);
  }

  reset(): void {
    // The time offset survives a reset, as on QEMU (the RTC keeps time).
    this.alarmNext = 0n;
    this.irqPending = false;
    this.irqEnabled = false;
    this.timeHigh = 0;
    this.disarm();
    this.updateIrq();
  }

  save(): object {
    // bigints as decimal strings so the snapshot survives JSON.
    return {
      offset: this.offset.toString(),
      timeHigh: this.timeHigh,
      alarmNext: this.alarmNext.toString(),
      alarmRunning: this.alarmRunning,
      irqPending: this.irqPending,
      irqEnabled: this.irqEnabled,
    };
  }

  restore(state: object): void {
    const offset = bigintField(state, 'offset', this.name) & U64;
    const alarmNext = bigintField(state, 'alarmNext', this.name) & U64;
    const timeHigh = uintField(state, 'timeHigh', this.name);
    const alarmRunning = boolField(state, 'alarmRunning', this.name);
    const irqPending = boolField(state, 'irqPending', this.name);
    const irqEnabled = boolField(state, 'irqEnabled', this.name);
    this.offset = offset;
    this.alarmNext = alarmNext;
    this.timeHigh = timeHigh;
    this.irqPending = irqPending;
    this.irqEnabled = irqEnabled;
    if (alarmRunning) this.arm();
    else this.disarm();
    this.updateIrq(true);
  }

  private setTime(t: bigint): void {
    this.offset = (t - this.clock.nowNs()) & U64;
    if (this.alarmRunning) this.onAlarmScheduled(this.hostDeadline());
  }

  private arm(): void {
    if (this.alarmNext <= this.now()) {
      this.alarmRunning = false;
      this.irqPending = true;
      this.onAlarmScheduled(null);
    } else {
      this.alarmRunning = true;
      this.onAlarmScheduled(this.hostDeadline());
    }
  }

  private disarm(): void {
    if (this.alarmRunning) this.onAlarmScheduled(null);
    this.alarmRunning = false;
  }

  /** The host-clock time at which guest time reaches the alarm. */
  private hostDeadline(): bigint {
    return this.clock.nowNs() + (this.alarmNext - this.now());
  }

  private updateIrq(force = false): void {
    const level = this.irqPending && this.irqEnabled;
    if (level !== this.line || force) {
      this.line = level;
      this.irq(level);
    }
  }
}
