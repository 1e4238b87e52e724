import { describe, expect, it } from 'vitest';
import { BusError } from '../../../drivers/board/bus.ts';
import { PLIC_CONTEXT_BASE, PLIC_CONTEXT_STRIDE, PLIC_ENABLE_BASE, PLIC_ENABLE_STRIDE, plicContext } from '../../../drivers/board/memmap.ts';
import { createVirtBoard } from '../../../drivers/board/virt.ts';
import type { FinisherEvent } from '../../../drivers/emulated/test_finisher.ts';
import { IER_ERBFI, IER_ETBEI, UART_IER, UART_LSR, UART_RBR } from '../../../drivers/emulated/uart16550.ts';
import { VIRTIO_MAGIC } from '../../../drivers/emulated/virtio_mmio_empty.ts';

const PLIC = 0x0c00_0000;
const UART = 0x1000_0000;

function board() {
  const eip = new Map<string, boolean>();
  const tx: number[] = [];
  const exits: FinisherEvent[] = [];
  const b = createVirtBoard({
    harts: 2,
    externalIrq: (hart, mode, level) => eip.set(`${hart}${mode}`, level),
    onTransmit: (byte) => tx.push(byte),
    onExit: (e) => exits.push(e),
    clock: { nowNs: () => 0n },
  });
  return { ...b, eip, tx, exits };
}

describe('virt board', () => {
  it('prints what the guest writes to the UART at 0x1000_0000', () => {
    const { bus, tx } = board();
    for (const c of 'ok') bus.write(UART + UART_RBR, 1, c.charCodeAt(0));
    expect(String.fromCharCode(...tx)).toBe('ok');
  });

  it('delivers a UART receive interrupt through PLIC source 10 to the hart S-mode context', () => {
    const { bus, uart, eip } = board();
    const ctx = plicContext(1, 'S');
    bus.write(PLIC + 4 * 10, 4, 1); // priority
    bus.write(PLIC + PLIC_ENABLE_BASE + PLIC_ENABLE_STRIDE * ctx, 4, 1 << 10);
    bus.write(UART + UART_IER, 1, IER_ERBFI);
    uart.receive('k');
    expect(eip.get('1S')).toBe(true);
    expect(bus.read(PLIC + PLIC_CONTEXT_BASE + PLIC_CONTEXT_STRIDE * ctx + 4, 4)).toBe(10); // claim
    expect(eip.get('1S')).toBe(false);
    expect(bus.read(UART + UART_RBR, 1)).toBe(0x6b);
    bus.write(PLIC + PLIC_CONTEXT_BASE + PLIC_CONTEXT_STRIDE * ctx + 4, 4, 10); // complete
    expect(eip.get('1S')).toBe(false);
  });

  it('a UART THR-empty interrupt a driver leaves standing does not storm; each new byte written interrupts once (xv6-riscv, as QEMU)', () => {
    const { bus, eip } = board();
    const ctx = plicContext(0, 'S');
    const claimReg = PLIC + PLIC_CONTEXT_BASE + PLIC_CONTEXT_STRIDE * ctx + 4;
    bus.write(PLIC + 4 * 10, 4, 1);
    bus.write(PLIC + PLIC_ENABLE_BASE + PLIC_ENABLE_STRIDE * ctx, 4, 1 << 10);
    bus.write(UART + UART_IER, 1, IER_ETBEI | IER_ERBFI); // THR is empty: THR-empty pending at once
    expect(eip.get('0S')).toBe(true);
    // xv6's handler: claim, read LSR (no data), nothing to send, complete. It never reads IIR.
    expect(bus.read(claimReg, 4)).toBe(10);
    bus.read(UART + UART_LSR, 1);
    bus.write(claimReg, 4, 10);
    expect(eip.get('0S')).toBe(false);
    expect(bus.read(claimReg, 4)).toBe(0);
    // A byte written re-arms THR-empty: one new interrupt.
    bus.write(UART + UART_RBR, 1, 0x41);
    expect(eip.get('0S')).toBe(true);
    expect(bus.read(claimReg, 4)).toBe(10);
    bus.write(claimReg, 4, 10);
    expect(eip.get('0S')).toBe(false);
  });

  it('a byte received while the UART interrupt is being handled interrupts again after the completion', () => {
    const { bus, uart, eip } = board();
    const ctx = plicContext(0, 'S');
    const claimReg = PLIC + PLIC_CONTEXT_BASE + PLIC_CONTEXT_STRIDE * ctx + 4;
    bus.write(PLIC + 4 * 10, 4, 1);
    bus.write(PLIC + PLIC_ENABLE_BASE + PLIC_ENABLE_STRIDE * ctx, 4, 1 << 10);
    bus.write(UART + UART_IER, 1, IER_ERBFI);
    uart.receive('a');
    expect(bus.read(claimReg, 4)).toBe(10);
    expect(bus.read(UART + UART_RBR, 1)).toBe(0x61);
    uart.receive('b'); // during the handler, after it drained the FIFO
    bus.write(claimReg, 4, 10);
    expect(eip.get('0S')).toBe(true);
    expect(bus.read(claimReg, 4)).toBe(10);
    expect(bus.read(UART + UART_RBR, 1)).toBe(0x62);
    bus.write(claimReg, 4, 10);
    expect(eip.get('0S')).toBe(false);
  });

  it('powers off through the test finisher at 0x10_0000', () => {
    const { bus, exits } = board();
    bus.write(0x10_0000, 4, 0x5555);
    expect(exits).toEqual([{ kind: 'poweroff', code: 0 }]);
  });

  it('answers "no device" in every empty virtio slot', () => {
    const { bus } = board();
    for (let slot = 0; slot < 8; slot++) {
      const base = 0x1000_1000 + slot * 0x1000;
      expect(bus.read(base, 4)).toBe(VIRTIO_MAGIC);
      expect(bus.read(base + 8, 4)).toBe(0); // DeviceID
    }
  });

  it('wires a provided virtio device to its slot and interrupt', () => {
    let raise: ((level: boolean) => void) | undefined;
    const b = createVirtBoard({
      harts: 1,
      externalIrq: () => {},
      virtio: [undefined, (irq) => ((raise = irq), { name: 'blk', size: 0x1000, stateVersion: 1, read: () => 2, write: () => {}, reset: () => {}, save: () => ({}), restore: () => {} })],
    });
    expect(b.bus.deviceAt(0x1000_2000)!.name).toBe('blk');
    raise!(true);
    expect(b.plic.isPending(2)).toBe(true);
  });

  it('faults accesses to holes in the map and to the kernel-serviced CLINT', () => {
    const { bus } = board();
    expect(() => bus.read(0x0200_0000, 4)).toThrow(BusError);
    expect(() => bus.read(0x1000_0100, 1)).toThrow(BusError);
    expect(() => bus.read(0x8000_0000, 4)).toThrow(BusError);
  });

  it('lists every host device for the exit statistics', () => {
    const { bus } = board();
    expect(bus.stats().map((s) => s.name)).toEqual(['test', 'rtc', 'plic', 'uart0', ...Array.from({ length: 8 }, (_, i) => `virtio${i}`)]);
  });
});
