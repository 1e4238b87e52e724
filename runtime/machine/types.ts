// The Machine's configuration, results and saved state: what callers of
// runtime/machine/machine.ts hand it and get back.
import type { BlockDevice } from '../../drivers/block/device.ts';
import type { VmbusDevice } from '../../drivers/vmbus/channel-manager.ts';
import type { ClockMode } from './clock.ts';
import type { Machine } from './machine.ts';
import type { OvercommitConfig, OvercommitStats } from './overcommit.ts';
import type { VcpuCounters } from './vcpu-view.ts';

export interface MachineConfig {
  /** Guest RAM in bytes (QEMU's -m). */
  ramSize: number;
  /** Number of harts (QEMU's -smp). */
  harts: number;
  /** Guest console output. */
  onConsole: (bytes: Uint8Array) => void;
  clock?: ClockMode;
  /** Kernel command line for the device tree. */
  bootargs?: string;
  /**
   * Memory virtualization: 'direct' (RAM is one host range: a check and an
   * offset), 'nested' (real Sv39x4 G-stage tables, a 2-D walk on TLB misses)
   * or 'shadow' (per-vCPU GVA -> host shadow tables; guest page tables
   * write-protected).
   */
  paging?: PagingMode;
  /** Disks for virtio-blk, filling the virtio-mmio slots in order (the first at 0x1000_1000). */
  drives?: readonly BlockDevice[];
  /** RAM already in host frames (Hypervisor.reserveRam, holding a migrated guest's pages); default: new zeroed frames. */
  ramHost?: number;
  /**
   * The vCPUs run on other threads than this board (a threaded host): device
   * accesses exit to the root partition, which calls serviceExit(), and an
   * interrupt line the board raises kicks and wakes the vCPU. Realtime clock only.
   */
  exits?: boolean;
  /**
   * What a reset the guest asks for (SBI SRST, the finisher's 0x7777) does:
   * with a loader, the partition reboots as QEMU's does: its devices are
   * power-cycled, this function loads its images again and resets its harts
   * (RAM keeps its contents). Without one, a reset ends the run (QEMU's -no-reboot).
   */
  reboot?: (machine: Machine) => void;
  /**
   * Memory overcommit: page sharing with the partitions of its salt group
   * and ballooning (docs/memory.md). Nested or shadow paging only.
   */
  overcommit?: OvercommitConfig;
  /** Synthetic devices on VMBus (enlightened boot only): offered as channels in this order. */
  vmbus?: readonly VmbusDevice[];
}

export type PagingMode = 'direct' | 'nested' | 'shadow';

/**
 * Where a restored partition resumes the deterministic host's round: vCPUs
 * before `vcpu` have had their turn, `vcpu` runs `left` more steps of its
 * slice (undefined: a whole slice), `ran` says whether a vCPU ran in the round.
 */
export interface RoundPosition {
  vcpu: number;
  left?: number;
  ran: boolean;
}

/** The Machine's own part of a saved partition (runtime/persist/partition.ts), JSON-able. */
export interface MachineState {
  tohost: string;
  fromhost: string;
  enlightened: boolean;
  sbiInput: number[];
  reboots: number;
  idleSteps: number;
  /** The partition's clock (before its mtime offset), in ticks. */
  clockTicks: number;
  clockMode: ClockMode;
  round: RoundPosition | null;
}

/**
 * Why a vCPU exited to the root partition: a device access, an SBI call the
 * host serves (console, reset), an HTIF write, a store that found no host
 * frame (the no-memory exit, overcommit), a page in the swap file (the
 * swap-in exit, runtime/machine/swap.ts).
 */
export type ExitReason = 'mmio' | 'sbi' | 'htif' | 'memory' | 'swap' | 'other';

export type RunResult =
  | { kind: 'exit'; code: number; reason: 'htif' | 'finisher' | 'sbi' }
  | { kind: 'reset'; type?: 'cold' | 'warm' }
  /** Every hart stopped itself through SBI HSM: nothing can run again. */
  | { kind: 'stopped' }
  | { kind: 'timeout' }
  | { kind: 'insn-limit' }
  /** Turned off by the host (HostController.stop). */
  | { kind: 'off' }
  /** Saved to a file (hv run --save) and not run on here. */
  | { kind: 'saved'; path: string }
  /** Live migration: another host runs it now (runtime/migrate/). */
  | { kind: 'migrated'; to: string }
  /** The root partition failed servicing it (a device model's bug): stopped, others run on. */
  | { kind: 'crashed'; message: string }
  /** A store needed a host frame and none could be reclaimed (overcommit, docs/memory.md): stopped, others run on. */
  | { kind: 'memory-exhausted'; error: 'MemoryExhaustedError'; message: string };

export interface RunLimits {
  timeoutMs?: number;
  maxInsns?: number;
  /** Instructions per vCPU slice. */
  slice?: number;
}

/** A partition's figures: instructions over wall time, and its vCPUs' counters summed. */
export interface MachineStats extends VcpuCounters {
  instructions: number;
  seconds: number;
  mips: number;
  /** With overcommit: the partition's pages by where they live, the host's sharing counters, its balloon. */
  memory?: OvercommitStats;
}
