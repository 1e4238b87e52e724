// The board's physical address map: QEMU `virt` (hw/riscv/virt.c, virt_memmap[]
// and include/hw/riscv/virt.h), so the same ELF runs here and on
// `qemu-system-riscv64 -M virt`. This file is the single source of truth: the
// device tree (dtb.ts) and the MMIO bus (bus.ts) are both generated from it.
//
//   0x0000_0000 +------------------------------+
//               | (QEMU: debug, boot ROM)      |  absent here: guests start at DRAM
//   0x0010_0000 +------------------------------+ TEST      sifive_test, 4 KiB
//   0x0010_1000 +------------------------------+ RTC       goldfish, 4 KiB, irq 11
//   0x0010_2000 +------------------------------+
//               :                              :
//   0x0200_0000 +------------------------------+ CLINT     64 KiB (in the kernel)
//               |  +0x0000 msip[hart]    u32   |
//               |  +0x4000 mtimecmp[hart] u64  |
//               |  +0xBFF8 mtime         u64   |  10 MHz
//   0x0201_0000 +------------------------------+
//               :  (QEMU: sswi, PCIe PIO,      :
//               :   platform bus - absent)     :
//   0x0C00_0000 +------------------------------+ PLIC      6 MiB
//               |  +0x00_0000 priority[src]    |  4 B per source
//               |  +0x00_1000 pending bits     |
//               |  +0x00_2000 enables[ctx]     |  0x80 per context
//               |  +0x20_0000 threshold/claim  |  0x1000 per context
//               |                              |  ctx 2h = hart h M, 2h+1 = S
//   0x0C60_0000 +------------------------------+
//               :                              :
//   0x1000_0000 +------------------------------+ UART0     16550, 256 B, irq 10
//   0x1000_1000 +------------------------------+ VIRTIO    8 x 4 KiB, irqs 1..8
//   0x1000_9000 +------------------------------+
//               :  (QEMU: fw-cfg, flash,       :
//               :   AIA, PCIe - absent)        :
//   0x8000_0000 +------------------------------+ DRAM      -m bytes
//               | guest RAM (in the kernel)    |
//               +------------------------------+

/** Who services accesses to a region: a TypeScript device model on the host, or the kernel itself. */
export type Servicer = 'host' | 'kernel';

export interface Region {
  /** Base guest-physical address. */
  readonly base: number;
  /** Size in bytes of one instance (0 = set by the configuration, for DRAM). */
  readonly size: number;
  /** Number of consecutive instances, each `size` bytes apart (virtio slots). */
  readonly count: number;
  /** PLIC source of instance 0; instance n uses irq + n. Undefined: no wired interrupt. */
  readonly irq?: number;
  readonly servicer: Servicer;
}

// Values checked against QEMU (hw/riscv/virt.c virt_memmap[], include/hw/riscv/virt.h:
// UART0_IRQ 10, RTC_IRQ 11, VIRTIO_IRQ 1 .. VIRTIO_COUNT 8).
export const MEMMAP = {
  test: { base: 0x0010_0000, size: 0x1000, count: 1, servicer: 'host' },
  rtc: { base: 0x0010_1000, size: 0x1000, count: 1, irq: 11, servicer: 'host' },
  clint: { base: 0x0200_0000, size: 0x1_0000, count: 1, servicer: 'kernel' },
  plic: { base: 0x0c00_0000, size: 0x60_0000, count: 1, servicer: 'host' },
  uart0: { base: 0x1000_0000, size: 0x100, count: 1, irq: 10, servicer: 'host' },
  virtio: { base: 0x1000_1000, size: 0x1000, count: 8, irq: 1, servicer: 'host' },
  dram: { base: 0x8000_0000, size: 0, count: 1, servicer: 'kernel' },
} as const satisfies Record<string, Region>;

export type RegionName = keyof typeof MEMMAP;

/** Base address of instance `index` of a region. */
export function regionBase(name: RegionName, index = 0): number {
  const r: Region = MEMMAP[name];
  return r.base + index * r.size;
}

/** PLIC source number of instance `index` of a region, or undefined if it has none. */
export function regionIrq(name: RegionName, index = 0): number | undefined {
  const r: Region = MEMMAP[name];
  return r.irq === undefined ? undefined : r.irq + index;
}

// --- CLINT (SiFive CLINT / ACLINT MSWI + MTIMER), emulated by the kernel -------------
export const CLINT_MSIP = 0x0000; // u32 per hart
export const CLINT_MTIMECMP = 0x4000; // u64 per hart
export const CLINT_MTIME = 0xbff8; // u64
/** mtime frequency, /cpus/timebase-frequency (RISCV_ACLINT_DEFAULT_TIMEBASE_FREQ). */
export const TIMEBASE_HZ = 10_000_000;

// --- PLIC (include/hw/riscv/virt.h VIRT_PLIC_*) ---------------------------------------
export const PLIC_PRIORITY_BASE = 0x00_0000;
export const PLIC_PENDING_BASE = 0x00_1000;
export const PLIC_ENABLE_BASE = 0x00_2000;
export const PLIC_ENABLE_STRIDE = 0x80;
export const PLIC_CONTEXT_BASE = 0x20_0000;
export const PLIC_CONTEXT_STRIDE = 0x1000;
/** Sources including the reserved source 0 (VIRT_IRQCHIP_NUM_SOURCES); riscv,ndev = this - 1. */
export const PLIC_NUM_SOURCES = 96;
/** Priority bits (VIRT_IRQCHIP_NUM_PRIO_BITS): priorities and thresholds are 0..7. */
export const PLIC_PRIO_BITS = 3;
/** The 6 MiB window holds (0x60_0000 - CONTEXT_BASE) / CONTEXT_STRIDE contexts, 2 per hart. */
export const PLIC_MAX_CONTEXTS = (MEMMAP.plic.size - PLIC_CONTEXT_BASE) / PLIC_CONTEXT_STRIDE;
export const MAX_HARTS = PLIC_MAX_CONTEXTS / 2;

/** PLIC context of a hart's M-mode (2h) or S-mode (2h + 1) external interrupt. */
export function plicContext(hart: number, mode: 'M' | 'S'): number {
  return 2 * hart + (mode === 'S' ? 1 : 0);
}

// --- UART -------------------------------------------------------------------------------
/** Input clock of the 16550 (1.8432 MHz x 2), /soc/serial/clock-frequency. */
export const UART_CLOCK_HZ = 3_686_400;

// --- Test finisher (hw/misc/sifive_test.c) ----------------------------------------------
export const FINISHER_FAIL = 0x3333;
export const FINISHER_PASS = 0x5555;
export const FINISHER_RESET = 0x7777;

// --- Interrupt causes named in the device tree (privileged spec, mip bits) -------------
export const IRQ_M_SOFT = 3;
export const IRQ_M_TIMER = 7;
export const IRQ_S_EXT = 9;
export const IRQ_M_EXT = 11;
