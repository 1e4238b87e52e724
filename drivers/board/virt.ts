// Assembles the host-side devices of the virt board and wires them as QEMU
// does: each device's interrupt line to its PLIC source, the PLIC's outputs to
// the harts' MEIP/SEIP, every device onto the MMIO bus at its memmap address.
// Empty virtio slots answer "no device". (The CLINT and RAM live in the kernel.)

import type { MmioDevice } from '../emulated/device.ts';
import { type Clock, GoldfishRtc } from '../emulated/goldfish_rtc.ts';
import { Plic, type PlicOutput } from '../emulated/plic.ts';
import { type FinisherEvent, TestFinisher } from '../emulated/test_finisher.ts';
import { Uart16550 } from '../emulated/uart16550.ts';
import { EmptyVirtioSlot } from '../emulated/virtio_mmio_empty.ts';
import { MmioBus } from './bus.ts';
import { MEMMAP, regionIrq } from './memmap.ts';

export interface VirtBoardOptions {
  harts: number;
  /** Drives a hart's MEIP/SEIP; the runtime sets H_EXT_IRQ and wakes the vCPU. */
  externalIrq: PlicOutput;
  /** Bytes the guest writes to the UART. */
  onTransmit?: (byte: number) => void;
  /** The test finisher's power-off / fail / reset requests. */
  onExit?: (event: FinisherEvent) => void;
  /** Clock of the RTC (default: host wall clock). */
  clock?: Clock;
  onRtcAlarmScheduled?: (hostDeadlineNs: bigint | null) => void;
  /**
   * Virtio-mmio devices by slot (0..7). A device gets its slot's interrupt
   * through the `irq` factory; absent slots get an EmptyVirtioSlot.
   */
  virtio?: ReadonlyArray<((irq: (level: boolean) => void) => MmioDevice) | undefined>;
}

export interface VirtBoard {
  readonly bus: MmioBus;
  readonly plic: Plic;
  readonly uart: Uart16550;
  readonly rtc: GoldfishRtc;
  readonly finisher: TestFinisher;
  readonly virtio: readonly MmioDevice[];
}

export function createVirtBoard(options: VirtBoardOptions): VirtBoard {
  const plic = new Plic({ harts: options.harts, output: options.externalIrq });
  const line = (irq: number | undefined) => (level: boolean) => plic.setIrq(irq!, level);

  const uart = new Uart16550({ onTransmit: options.onTransmit, irq: line(regionIrq('uart0')) });
  const rtc = new GoldfishRtc({
    irq: line(regionIrq('rtc')),
    clock: options.clock,
    onAlarmScheduled: options.onRtcAlarmScheduled,
  });
  const finisher = new TestFinisher(options.onExit ?? (() => {}));

  const bus = new MmioBus();
  bus.mapRegion('test', finisher);
  bus.mapRegion('rtc', rtc);
  bus.mapRegion('plic', plic);
  bus.mapRegion('uart0', uart);
  const virtio: MmioDevice[] = [];
  for (let slot = 0; slot < MEMMAP.virtio.count; slot++) {
    const make = options.virtio?.[slot];
    const dev = make ? make(line(regionIrq('virtio', slot))) : new EmptyVirtioSlot(`virtio${slot}`);
    bus.mapRegion('virtio', dev, slot);
    virtio.push(dev);
  }
  return { bus, plic, uart, rtc, finisher, virtio };
}
