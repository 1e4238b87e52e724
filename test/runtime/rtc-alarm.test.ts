// The goldfish RTC's alarm interrupts when it is due, on a host timer, also
// while the guest never touches the RTC again (it spins or waits in WFI).
import { describe, expect, it } from 'vitest';
import { PLIC_ENABLE_BASE, PLIC_ENABLE_STRIDE, plicContext } from '../../drivers/board/memmap.ts';
import { RTC_ALARM_HIGH, RTC_ALARM_LOW, RTC_IRQ_ENABLED, RTC_TIME_HIGH, RTC_TIME_LOW } from '../../drivers/emulated/goldfish_rtc.ts';
import { Machine } from '../../runtime/machine/machine.ts';

const PLIC = 0x0c00_0000;
const RTC = 0x0010_1000;
const RTC_IRQ = 11;
const MEIP = 1 << 11;

describe('RTC alarm', () => {
  it('raises MEIP through the PLIC when the alarm is due, without another access from the guest', async () => {
    const m = new Machine({ ramSize: 1 << 20, harts: 1, onConsole: () => {} });
    // What a guest driver does: PLIC source 11 to hart 0's M context, the
    // alarm 20 ms from now, its interrupt enabled; then it touches nothing.
    const w = (addr: number, v: number | bigint) => m.busAccess(true, addr, 4, BigInt(v));
    w(PLIC + 4 * RTC_IRQ, 1);
    w(PLIC + PLIC_ENABLE_BASE + PLIC_ENABLE_STRIDE * plicContext(0, 'M'), 1 << RTC_IRQ);
    const now = m.busAccess(false, RTC + RTC_TIME_LOW, 4, 0n)! | (m.busAccess(false, RTC + RTC_TIME_HIGH, 4, 0n)! << 32n);
    const at = now + 20_000_000n;
    w(RTC + RTC_IRQ_ENABLED, 1);
    w(RTC + RTC_ALARM_HIGH, at >> 32n);
    w(RTC + RTC_ALARM_LOW, at & 0xffff_ffffn);
    const ext = () => m.harts[0]!.u32('EXT_IRQ') & MEIP;
    expect(ext()).toBe(0);
    const t0 = performance.now();
    while (!ext() && performance.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 2));
    expect(ext()).toBe(MEIP);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
  });
});
