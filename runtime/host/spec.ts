// What a partition is made of, as the control plane (HostController), the
// JSON VM config (`hv run --config vm.json`) and the CLI describe it. Plain
// data: it crosses threads (structured clone) unchanged.
import type { PagingMode } from '../machine/machine.ts';

export type { PagingMode };

/** A virtio-blk disk. */
export interface DiskSpec {
  /** Image file (a path; the root partition's worker opens it). */
  path: string;
  /** 'raw', 'vpc' (VHD), or undefined to probe (a VHD footer means vpc). */
  format?: 'raw' | 'vpc';
  readonly?: boolean;
}

/** Credit-scheduler parameters (docs/scheduler.md). */
export interface SchedSpec {
  /** Relative share, 1..65535 (default 256). */
  weight: number;
  /** Upper bound in percent of one pCPU (0 = none). */
  cap: number;
  /** Guaranteed share in percent of one pCPU (0 = none; at most cap when capped). */
  reservation: number;
}

export interface PartitionSpec {
  /** Shown in consoles and listings; unique within a host. */
  name: string;
  /** Guest RAM in bytes (a positive multiple of 4 KiB). */
  memory: number;
  /** vCPUs (harts), 1..64. */
  vcpus: number;
  paging: PagingMode;
  /**
   * firmware: every hart starts in M-mode at 0x8000_0000 with the emulated
   * board (the partition brings its own firmware, or the kernel runs bare in
   * M-mode). enlightened: the hypervisor is the SBI firmware; hart 0 starts
   * the kernel in S-mode, the others through SBI HSM.
   */
  boot: 'firmware' | 'enlightened';
  /** Firmware image loaded at 0x8000_0000 (firmware boot only); absent: the kernel runs bare. */
  bios?: string;
  /**
   * Kernel image: an ELF at its own addresses, or raw bytes (at 0x8020_0000
   * after firmware or when enlightened). Required unless `bios` is given.
   */
  kernel?: string;
  /** Kernel command line (device tree /chosen/bootargs). */
  append?: string;
  /** Initial ramdisk. */
  initrd?: string;
  disks: DiskSpec[];
  sched: SchedSpec;
}

export const DEFAULT_SCHED: SchedSpec = { weight: 256, cap: 0, reservation: 0 };

/**
 * A partition running `kernel` with the defaults of `hv run` (128 MiB, one
 * vCPU, direct paging, firmware boot without firmware, no disks, weight 256),
 * with `more` on top.
 */
export function partitionSpec(name: string, kernel: string, more: Partial<PartitionSpec> = {}): PartitionSpec {
  return { name, kernel, memory: 128 << 20, vcpus: 1, paging: 'direct', boot: 'firmware', disks: [], sched: DEFAULT_SCHED, ...more };
}

/** A whole host: its physical CPUs and the partitions to create at start. */
export interface HostSpec {
  /** pCPU worker threads (default: the machine's parallelism). */
  pcpus?: number;
  partitions: PartitionSpec[];
}
