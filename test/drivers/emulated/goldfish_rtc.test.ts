import { describe, expect, it } from 'vitest';
import {
  GoldfishRtc,
  RTC_ALARM_HIGH,
  RTC_ALARM_LOW,
  RTC_ALARM_STATUS,
  RTC_CLEAR_ALARM,
  RTC_CLEAR_INTERRUPT,
  RTC_IRQ_ENABLED,
  RTC_TIME_HIGH,
  RTC_TIME_LOW,
} from '../../../drivers/emulated/goldfish_rtc.ts';

const START = 1_700_000_000_123_456_789n; // ns since the epoch

function rtc() {
  const clock = { t: START, nowNs: () => clock.t };
  const irqs: boolean[] = [];
  const deadlines: (bigint | null)[] = [];
  const dev = new GoldfishRtc({ clock, irq: (l) => irqs.push(l), onAlarmScheduled: (d) => deadlines.push(d) });
  const time = () => {
    const lo = BigInt(dev.read(RTC_TIME_LOW, 4));
    const hi = BigInt(dev.read(RTC_TIME_HIGH, 4));
    return (hi << 32n) | lo;
  };
  const setAlarm = (t: bigint) => {
    dev.write(RTC_ALARM_HIGH, 4, Number(t >> 32n));
    dev.write(RTC_ALARM_LOW, 4, Number(t & 0xffff_ffffn));
  };
  const line = () => irqs[irqs.length - 1] ?? false;
  return { clock, dev, time, setAlarm, line, deadlines, irqs };
}

describe('goldfish RTC', () => {
  it('reads the clock in nanoseconds, TIME_LOW then TIME_HIGH', () => {
    const r = rtc();
    expect(r.time()).toBe(START);
    r.clock.t += 5_000_000_000n;
    expect(r.time()).toBe(START + 5_000_000_000n);
  });

  it('latches the high word when TIME_LOW is read', () => {
    const r = rtc();
    r.clock.t = 0x1_ffff_ffffn;
    expect(r.dev.read(RTC_TIME_LOW, 4)).toBe(0xffff_ffff);
    r.clock.t = 0x2_0000_0001n; // the low word wraps between the two reads
    expect(r.dev.read(RTC_TIME_HIGH, 4)).toBe(1);
  });

  it('sets the guest time without touching the host clock', () => {
    const r = rtc();
    const target = 1_000_000_000_000_000_000n;
    r.dev.write(RTC_TIME_HIGH, 4, Number(target >> 32n));
    r.dev.write(RTC_TIME_LOW, 4, Number(target & 0xffff_ffffn));
    expect(r.time()).toBe(target);
    r.clock.t += 10n;
    expect(r.time()).toBe(target + 10n);
  });

  it('drives its line again when an alarm fires while the last interrupt is still pending (a new PLIC request, as QEMU)', () => {
    const r = rtc();
    r.dev.write(RTC_IRQ_ENABLED, 4, 1);
    r.setAlarm(START + 100n);
    r.clock.t += 100n;
    r.dev.read(RTC_ALARM_STATUS, 4);
    expect(r.line()).toBe(true);
    const before = r.irqs.length;
    // The driver left the interrupt pending (no CLEAR_INTERRUPT) and set the next alarm.
    r.setAlarm(START + 200n);
    r.dev.read(RTC_ALARM_STATUS, 4);
    r.dev.read(RTC_ALARM_STATUS, 4); // reads alone drive nothing
    const afterWrites = r.irqs.length;
    r.clock.t += 100n;
    r.dev.read(RTC_ALARM_STATUS, 4);
    expect(r.irqs.length).toBe(afterWrites + 1); // the alarm fired: driven high again
    expect(r.irqs.slice(before).every((l) => l)).toBe(true);
  });

  it('fires an enabled alarm when its time comes', () => {
    const r = rtc();
    r.dev.write(RTC_IRQ_ENABLED, 4, 1);
    r.setAlarm(START + 1000n);
    expect(r.dev.read(RTC_ALARM_STATUS, 4)).toBe(1);
    expect(r.deadlines.at(-1)).toBe(START + 1000n);
    r.clock.t += 999n;
    r.dev.poll();
    expect(r.line()).toBe(false);
    r.clock.t += 1n;
    r.dev.poll();
    expect(r.line()).toBe(true);
    expect(r.dev.read(RTC_ALARM_STATUS, 4)).toBe(0);
  });

  it('fires at once for an alarm already in the past', () => {
    const r = rtc();
    r.dev.write(RTC_IRQ_ENABLED, 4, 1);
    r.setAlarm(START - 1n);
    expect(r.line()).toBe(true);
  });

  it('keeps the interrupt until CLEAR_INTERRUPT', () => {
    const r = rtc();
    r.dev.write(RTC_IRQ_ENABLED, 4, 1);
    r.setAlarm(START);
    expect(r.line()).toBe(true);
    r.dev.read(RTC_TIME_LOW, 4);
    expect(r.line()).toBe(true);
    r.dev.write(RTC_CLEAR_INTERRUPT, 4, 1);
    expect(r.line()).toBe(false);
  });

  it('masks the line with IRQ_ENABLED but remembers the pending alarm', () => {
    const r = rtc();
    r.setAlarm(START);
    expect(r.line()).toBe(false);
    r.dev.write(RTC_IRQ_ENABLED, 4, 1);
    expect(r.line()).toBe(true);
    expect(r.dev.read(RTC_IRQ_ENABLED, 4)).toBe(1);
  });

  it('never fires a cleared alarm', () => {
    const r = rtc();
    r.dev.write(RTC_IRQ_ENABLED, 4, 1);
    r.setAlarm(START + 10n);
    r.dev.write(RTC_CLEAR_ALARM, 4, 0);
    expect(r.deadlines.at(-1)).toBe(null);
    r.clock.t += 100n;
    r.dev.poll();
    expect(r.line()).toBe(false);
    expect(r.dev.read(RTC_ALARM_STATUS, 4)).toBe(0);
  });

  it('reads back the alarm registers', () => {
    const r = rtc();
    r.setAlarm(0x1234_5678_9abc_def0n);
    expect(r.dev.read(RTC_ALARM_LOW, 4)).toBe(0x9abc_def0);
    expect(r.dev.read(RTC_ALARM_HIGH, 4)).toBe(0x1234_5678);
  });

  it('only answers 32-bit accesses', () => {
    const r = rtc();
    expect(r.dev.read(RTC_TIME_LOW, 1)).toBe(0);
    r.dev.write(RTC_IRQ_ENABLED, 2, 1);
    expect(r.dev.read(RTC_IRQ_ENABLED, 4)).toBe(0);
  });

  it('keeps time but drops alarm and interrupt state on reset', () => {
    const r = rtc();
    r.dev.write(RTC_TIME_HIGH, 4, 0);
    r.dev.write(RTC_IRQ_ENABLED, 4, 1);
    r.setAlarm(START);
    r.dev.reset();
    expect(r.line()).toBe(false);
    expect(r.time()).toBe(START & 0xffff_ffffn);
  });

  it('restores time offset and an armed alarm from a JSON snapshot', () => {
    const a = rtc();
    a.dev.write(RTC_TIME_HIGH, 4, 7);
    a.dev.write(RTC_IRQ_ENABLED, 4, 1);
    const t = a.time();
    a.setAlarm(t + 50n);
    const b = rtc();
    b.dev.restore(JSON.parse(JSON.stringify(a.dev.save())));
    expect(b.time()).toBe(t);
    expect(b.dev.read(RTC_ALARM_STATUS, 4)).toBe(1);
    b.clock.t += 50n;
    b.dev.poll();
    expect(b.line()).toBe(true);
  });
});
