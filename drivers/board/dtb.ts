// The device tree of the virt board, generated from the memmap table. The
// guest gets it in a1 at boot (a0 = hart id). Node names, property order and
// phandle numbering mirror what QEMU's hw/riscv/virt.c produces (libfdt
// inserts each new node and property *before* its siblings, so QEMU's blob
// lists them in reverse creation order; we write that final order directly),
// so `dtc -O dts` output of the two lines up.
//
// Intentional differences from `qemu-system-riscv64 -M virt` (checked against
// QEMU 7.2 with dumpdtb, and hw/riscv/virt.c of 8.x/9.x):
//  - no /pmu, /fw-cfg, /flash, /platform-bus or /soc/pci nodes: those devices
//    are not emulated (no SBI PMU, fw_cfg, pflash, dynamic sysbus, PCIe);
//  - /chosen has no rng-seed unless one is configured, so the blob is
//    deterministic (record/replay, tests);
//  - riscv,isa names what our harts implement (default rv64imafdc_zicsr_zifencei),
//    not QEMU's rv64 default (which adds h, zba/zbb/zbc/zbs, sstc, ...), and
//    there are no riscv,cbo*-block-size properties (no Zicbom/Zicboz);
//  - riscv,isa-base and riscv,isa-extensions are present, as in QEMU >= 8.2
//    (7.2 has riscv,isa only);
//  - plic riscv,ndev is 0x5f (VIRT_IRQCHIP_NUM_SOURCES - 1, QEMU >= 8.0;
//    7.2 wrote 0x60);
//  - with virtioSlots < 8 only the first slots are described (QEMU always
//    lists 8; the bus still answers "no device" in every slot).

import { type Cell, FdtNode, type Reservation, writeFdt } from './fdt.ts';
import {
  FINISHER_PASS,
  FINISHER_RESET,
  IRQ_M_EXT,
  IRQ_M_SOFT,
  IRQ_M_TIMER,
  IRQ_S_EXT,
  MAX_HARTS,
  MEMMAP,
  PLIC_NUM_SOURCES,
  regionBase,
  regionIrq,
  TIMEBASE_HZ,
  UART_CLOCK_HZ,
} from './memmap.ts';

export interface VirtDtbConfig {
  /** Number of harts, 1..MAX_HARTS (hart ids 0..harts-1). */
  harts: number;
  /** Base of RAM; default the memmap's DRAM base 0x8000_0000. */
  ramBase?: number;
  /** RAM size in bytes. */
  ramSize: number;
  /** Kernel command line, /chosen/bootargs. */
  bootargs?: string;
  /** Initial ramdisk placed in RAM by the loader: [start, end). */
  initrd?: { start: number; end: number };
  /** riscv,isa of every hart; default "rv64imafdc_zicsr_zifencei". */
  isa?: string;
  /** mmu-type of every hart; default "riscv,sv48". */
  mmuType?: string;
  /** Virtio-mmio slots to describe, 0..8; default 8 (all, as QEMU). */
  virtioSlots?: number;
  /** Seed bytes for /chosen/rng-seed (omitted by default). */
  rngSeed?: Uint8Array;
  /** Memory reservation block entries (default none, as QEMU). */
  reservations?: readonly Reservation[];
}

export const DEFAULT_ISA = 'rv64imafdc_zicsr_zifencei';
export const DEFAULT_MMU_TYPE = 'riscv,sv48';
export const STDOUT_PATH = `/soc/serial@${hex(MEMMAP.uart0.base)}`;

/** Raised for a configuration the device tree cannot describe. */
export class DtbConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DtbConfigError';
  }
}

/** Builds the tree (for inspection and tests); writeVirtDtb serializes it. */
export function buildVirtTree(config: VirtDtbConfig): FdtNode {
  const harts = config.harts;
  if (!Number.isInteger(harts) || harts < 1 || harts > MAX_HARTS) throw new DtbConfigError(`harts must be 1..${MAX_HARTS}, got ${harts}`);
  const ramBase = config.ramBase ?? MEMMAP.dram.base;
  const ramSize = config.ramSize;
  if (!Number.isSafeInteger(ramSize) || ramSize <= 0) throw new DtbConfigError(`invalid RAM size ${ramSize}`);
  if (!Number.isSafeInteger(ramBase) || ramBase < 0) throw new DtbConfigError(`invalid RAM base ${ramBase}`);
  const slots = config.virtioSlots ?? MEMMAP.virtio.count;
  if (!Number.isInteger(slots) || slots < 0 || slots > MEMMAP.virtio.count) {
    throw new DtbConfigError(`virtioSlots must be 0..${MEMMAP.virtio.count}, got ${slots}`);
  }
  const isa = config.isa ?? DEFAULT_ISA;
  const { base: isaBase, extensions } = parseIsa(isa);

  const root = new FdtNode('');
  root.u32('#address-cells', 2).u32('#size-cells', 2).string('compatible', 'riscv-virtio').string('model', 'riscv-virtio,qemu');

  // Created before they are filled so that the children appear in QEMU's order.
  const chosen = root.addNode('chosen');
  const poweroff = root.addNode('poweroff');
  const reboot = root.addNode('reboot');
  const memory = root.addNode(`memory@${hex(ramBase)}`);
  const cpus = root.addNode('cpus');
  const soc = root.addNode('soc');

  // --- /chosen
  if (config.initrd) {
    const { start, end } = config.initrd;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
      throw new DtbConfigError(`invalid initrd range [${start}, ${end})`);
    }
    chosen.u64('linux,initrd-end', end).u64('linux,initrd-start', start);
  }
  if (config.rngSeed) chosen.bytes('rng-seed', config.rngSeed);
  if (config.bootargs !== undefined && config.bootargs !== '') chosen.string('bootargs', config.bootargs);
  chosen.string('stdout-path', STDOUT_PATH);

  // --- /memory
  memory.string('device_type', 'memory').u32('reg', ...regCells(ramBase, ramSize));

  // --- /cpus. Phandles as QEMU numbers them: harts from the last down, each
  // cpu then its interrupt controller; then the PLIC, then the test device.
  cpus.u32('#address-cells', 1).u32('#size-cells', 0).u32('timebase-frequency', TIMEBASE_HZ);
  const cpuNodes: FdtNode[] = [];
  const intcs: FdtNode[] = [];
  for (let h = 0; h < harts; h++) cpuNodes.push(cpus.addNode(`cpu@${h}`));
  const cpuMap = cpus.addNode('cpu-map').addNode('cluster0');
  for (let h = 0; h < harts; h++) {
    const phandle = 2 * (harts - 1 - h) + 1;
    const cpu = cpuNodes[h]!;
    cpu.setPhandle(phandle).string('device_type', 'cpu').u32('reg', h).string('status', 'okay').string('compatible', 'riscv');
    cpu.strings('riscv,isa-extensions', extensions).string('riscv,isa-base', isaBase).string('riscv,isa', isa);
    cpu.string('mmu-type', config.mmuType ?? DEFAULT_MMU_TYPE);
    const intc = cpu.addNode('interrupt-controller');
    intc.u32('#interrupt-cells', 1).empty('interrupt-controller').string('compatible', 'riscv,cpu-intc').setPhandle(phandle + 1);
    intcs.push(intc);
    cpuMap.addNode(`core${h}`).u32('cpu', cpu);
  }
  const plicPhandle = 2 * harts + 1;
  const testPhandle = 2 * harts + 2;

  // --- /soc
  soc.u32('#address-cells', 2).u32('#size-cells', 2).string('compatible', 'simple-bus').empty('ranges');
  const rtc = soc.addNode(`rtc@${hex(MEMMAP.rtc.base)}`);
  const serial = soc.addNode(`serial@${hex(MEMMAP.uart0.base)}`);
  const test = soc.addNode(`test@${hex(MEMMAP.test.base)}`);
  const virtio: FdtNode[] = [];
  for (let i = slots - 1; i >= 0; i--) virtio[i] = soc.addNode(`virtio_mmio@${hex(regionBase('virtio', i))}`);
  const plicNode = soc.addNode(`plic@${hex(MEMMAP.plic.base)}`);
  const clint = soc.addNode(`clint@${hex(MEMMAP.clint.base)}`);

  plicNode
    .setPhandle(plicPhandle)
    .u32('riscv,ndev', PLIC_NUM_SOURCES - 1)
    .u32('reg', ...regCells(MEMMAP.plic.base, MEMMAP.plic.size))
    .u32('interrupts-extended', ...intcs.flatMap((i): Cell[] => [i, IRQ_M_EXT, i, IRQ_S_EXT]))
    .empty('interrupt-controller')
    .strings('compatible', ['sifive,plic-1.0.0', 'riscv,plic0'])
    .u32('#address-cells', 0)
    .u32('#interrupt-cells', 1);

  rtc
    .u32('interrupts', regionIrq('rtc')!)
    .u32('interrupt-parent', plicNode)
    .u32('reg', ...regCells(MEMMAP.rtc.base, MEMMAP.rtc.size))
    .string('compatible', 'google,goldfish-rtc');

  serial
    .u32('interrupts', regionIrq('uart0')!)
    .u32('interrupt-parent', plicNode)
    .u32('clock-frequency', UART_CLOCK_HZ)
    .u32('reg', ...regCells(MEMMAP.uart0.base, MEMMAP.uart0.size))
    .string('compatible', 'ns16550a');

  test
    .setPhandle(testPhandle)
    .u32('reg', ...regCells(MEMMAP.test.base, MEMMAP.test.size))
    .strings('compatible', ['sifive,test1', 'sifive,test0', 'syscon']);

  for (let i = 0; i < slots; i++) {
    virtio[i]!
      .u32('interrupts', regionIrq('virtio', i)!)
      .u32('interrupt-parent', plicNode)
      .u32('reg', ...regCells(regionBase('virtio', i), MEMMAP.virtio.size))
      .string('compatible', 'virtio,mmio');
  }

  clint
    .u32('interrupts-extended', ...intcs.flatMap((i): Cell[] => [i, IRQ_M_SOFT, i, IRQ_M_TIMER]))
    .u32('reg', ...regCells(MEMMAP.clint.base, MEMMAP.clint.size))
    .strings('compatible', ['sifive,clint0', 'riscv,clint0']);

  // --- syscon power-off / reboot through the test finisher
  poweroff.u32('value', FINISHER_PASS).u32('offset', 0).u32('regmap', test).string('compatible', 'syscon-poweroff');
  reboot.u32('value', FINISHER_RESET).u32('offset', 0).u32('regmap', test).string('compatible', 'syscon-reboot');

  return root;
}

/** The virt board's DTB for `config`. */
export function writeVirtDtb(config: VirtDtbConfig): Uint8Array {
  return writeFdt(buildVirtTree(config), { reservations: config.reservations });
}

/**
 * Splits an ISA string into riscv,isa-base and riscv,isa-extensions as QEMU's
 * riscv_isa_write_fdt() does: single-letter extensions first in canonical
 * order (G expands to IMAFD_Zicsr_Zifencei), then the multi-letter ones.
 */
export function parseIsa(isa: string): { base: string; extensions: string[] } {
  const m = /^rv(32|64)([a-z]*)((?:_[a-z][a-z0-9]*)*)$/.exec(isa.toLowerCase());
  if (!m || !/^[ig]/.test(m[2]!)) throw new DtbConfigError(`invalid ISA string '${isa}' (expected e.g. ${DEFAULT_ISA})`);
  const letters = new Set(m[2]!.replace('g', 'imafd').split(''));
  const canonical = 'iemafdqcbpvh';
  const single = [...canonical].filter((c) => letters.has(c));
  for (const c of letters) if (!canonical.includes(c)) single.push(c);
  const multi = m[3]!.split('_').filter((s) => s !== '');
  if (m[2]!.includes('g')) for (const z of ['zicsr', 'zifencei']) if (!multi.includes(z)) multi.push(z);
  return { base: `rv${m[1]}i`, extensions: [...single, ...[...new Set(multi)]] };
}

/** <address size> with #address-cells = #size-cells = 2. */
function regCells(base: number, size: number): number[] {
  return [hi32(base), base >>> 0, hi32(size), size >>> 0];
}

function hi32(v: number): number {
  return Math.floor(v / 2 ** 32) >>> 0;
}

function hex(v: number): string {
  return v.toString(16);
}
