// Partition descriptor: what the kernel needs to know about a partition's
// guest-physical address space and its vCPUs.
//
//   +0x00 id u32            +0x04 flags u32
//   +0x08 ram_gpa u64        guest-physical base of RAM (0x8000_0000 on virt)
//   +0x10 ram_size u64
//   +0x18 ram_host u32       host address of guest RAM (contiguous for now;
//   +0x1c nvcpus u32         G-stage tables replace this with issue 4)
//   +0x20 first_vcpu u32     index of vCPU 0 in the vCPU array
//   +0x24 halted u32         set when the board asked to stop
//   +0x28 watch_gpa u64      page whose stores trap to the host (HTIF tohost)
//   +0x30 tohost_gpa u64     HTIF tohost address, 0 = none
//   +0x38 mtime_offset u64   guest mtime = host clock + offset (mtime writes)
//   +0x40 exit_code u32
//   +0x44 gstage_root u32    nested paging: host address of the Sv39x4 root (PF_NESTED)
//   +0xb8 vmbus u32          host address of the VMBus host event area (one page,
//                            vmbus/synic-defs.ts HE_*), 0 = no VMBus
//   +0xbc pt_bitmap u32      shadow paging: host address of the bitmap of guest
//                            page-table pages, 1 bit per RAM page (PF_SHADOW)
//   +0x48 cons_in_head u32   SBI console input ring (enlightened partitions):
//   +0x4c cons_in_tail u32   bytes taken by vCPUs / put by the host, free-running
//   +0x50 sched_weight u32   scheduler (sched/defs.ts): proportional-share weight (0 = 256)
//   +0x54 sched_cap u32      cap, percent of one pCPU (0 = none)
//   +0x58 sched_reserve u32  reservation, percent of one pCPU
//   +0x5c..+0x8f             scheduler: cap budget, statistics, accounting scratch
//   +0x90 dirty_bitmap u32   dirty logging (mm/dirty.ts): host address of two
//                            bitmaps, 1 bit per RAM page (live | fetched), 0 = none
//   +0x94 dirty_gen u32      bumped by every arm/fetch: vCPUs drop their store TLB
//   +0x98 dirty_on u32       1 while stores are logged
//   +0xc0 cons_in_buf[64]    (see hypercall/console.ts)
import { PARTITIONS, PART_SIZE } from '../layout';

export const P_ID: u32 = 0x00;
export const P_FLAGS: u32 = 0x04;
export const P_RAM_GPA: u32 = 0x08;
export const P_RAM_SIZE: u32 = 0x10;
export const P_RAM_HOST: u32 = 0x18;
export const P_NVCPUS: u32 = 0x1c;
export const P_FIRST_VCPU: u32 = 0x20;
export const P_HALTED: u32 = 0x24;
export const P_WATCH_GPA: u32 = 0x28;
export const P_TOHOST_GPA: u32 = 0x30;
export const P_MTIME_OFFSET: u32 = 0x38;
export const P_EXIT_CODE: u32 = 0x40;
export const P_GSTAGE_ROOT: u32 = 0x44;
export const P_PT_BITMAP: u32 = 0xbc;
export const P_CONS_IN_HEAD: u32 = 0x48;
export const P_CONS_IN_TAIL: u32 = 0x4c;
export const P_VMBUS: u32 = 0xb8;
export const P_DIRTY_BITMAP: u32 = 0x90;
export const P_DIRTY_GEN: u32 = 0x94;
export const P_DIRTY_ON: u32 = 0x98;
export const P_CONS_IN_BUF: u32 = 0xc0;
/** Scheduler parameters and state, 0x50-0x8f (fields in sched/defs.ts). */
export const P_SCHED: u32 = 0x50;
export const P_SCHED_END: u32 = 0x90;
export const CONS_IN_SIZE: u32 = 64;

// P_FLAGS bits.
/** The hypervisor is this partition's SBI firmware: S-mode ECALLs are serviced in kernel/hypercall. */
export const PF_ENLIGHTENED: u32 = 1 << 0;
/** Guest-physical addresses translate through the G-stage tables at P_GSTAGE_ROOT (nested paging). */
export const PF_NESTED: u32 = 1 << 1;
/** Guest-virtual translations are cached in per-vCPU shadow tables; guest page tables are write-protected. */
export const PF_SHADOW: u32 = 1 << 2;
/**
 * Device accesses (everything but the in-kernel CLINT) exit to the root
 * partition instead of calling the host synchronously: the vCPU blocks while
 * its pCPU runs others (threaded hosts; platform/mmio.ts).
 */
export const PF_MMIO_EXIT: u32 = 1 << 3;

export const NO_WATCH: u64 = 0xffff_ffff_ffff_f000;

@inline export function partitionAddr(id: u32): usize {
  return <usize>(PARTITIONS + id * PART_SIZE);
}
