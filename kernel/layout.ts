// Host physical memory layout.
//
// The hypervisor owns one shared WebAssembly.Memory: it *is* host physical
// memory. Every pCPU thread instantiates the kernel module over it, so
// everything below lives at fixed addresses and nothing is allocated after
// start-up. Per-thread state (which vCPU is running here) lives in wasm
// globals, which are per instance.
//
//   0x0000_0000 +--------------------------------+
//               | kernel static data (read-only) |  AS data segments, re-applied
//               |                                |  by every instance
//   0x0010_0000 +--------------------------------+ HV_GLOBALS
//               | hypervisor globals (4 KiB)     |
//               |   +0x000 frame allocator (64 B)|  see mm/frames.ts
//               |   +0x040 JIT (64 B)            |  see jit/code.ts
//               |   +0x080 (free)                |
//               |   +0x100 scheduler (256 B)     |  see sched/defs.ts
//               |   +0x200 (free)                |
//               |   +0x800 page sharing (256 B)  |  see mm/share.ts
//               |   +0x900 (free)                |
//   0x0010_1000 +--------------------------------+
//               | (free)                         |
//   0x0012_0000 +--------------------------------+ SCHED_PCPUS
//               | pCPU scheduler blocks          |  MAX_PCPUS x PCPU_SIZE: run queue,
//               |                                |  clock, statistics, trace ring
//   0x0014_0000 +--------------------------------+ RVC_TABLE
//               | compressed-instruction table   |  65536 x u32: each 16-bit
//               |                                |  encoding's 32-bit expansion
//   0x0018_0000 +--------------------------------+ PARTITIONS
//               | partition table                |  MAX_PARTITIONS x PART_SIZE
//   0x001c_0000 +--------------------------------+
//               | (free)                         |
//   0x0020_0000 +--------------------------------+ VCPUS
//               | vCPU array                     |  MAX_VCPUS x VCPU_SIZE
//               |   each: hart state + soft TLB  |  (see cpu/hart.ts)
//   0x0120_0000 +--------------------------------+ FRAME_POOL
//               | frame pool                     |  guest RAM and, later,
//               |   ...                          |  G-stage / shadow tables
//   memory end  +--------------------------------+  (grows on demand, <= 4 GiB)

export const KERNEL_DATA_END: u32 = 0x0010_0000;

export const HV_GLOBALS: u32 = 0x0010_0000;
export const HV_GLOBALS_SIZE: u32 = 0x1000;
export const FRAMES_STATE: u32 = HV_GLOBALS; // 64 bytes, mm/frames.ts
export const JIT_STATE: u32 = HV_GLOBALS + 0x40; // 64 bytes, jit/code.ts
export const SCHED_GLOBALS: u32 = HV_GLOBALS + 0x100; // 256 bytes, sched/defs.ts
export const SHARE_STATE: u32 = HV_GLOBALS + 0x800; // 256 bytes, mm/share.ts

/**
 * One descriptor per partition (mm/partition.ts). As many as vCPUs, since
 * every partition has one at least: 1,000 toy partitions on one host is the
 * density target (docs/memory.md). A page of descriptors a host never
 * touches costs it nothing resident.
 */
export const PARTITIONS: u32 = 0x0018_0000;
export const PART_SIZE: u32 = 256;
export const MAX_PARTITIONS: u32 = 1024;

/** Per-pCPU scheduler blocks (sched/defs.ts); ends where RVC_TABLE starts. */
export const SCHED_PCPUS: u32 = 0x0012_0000;
export const PCPU_SIZE: u32 = 0x1000;
export const MAX_PCPUS: u32 = 32;

export const RVC_TABLE: u32 = 0x0014_0000;
export const RVC_TABLE_SIZE: u32 = 0x4_0000;

export const VCPUS: u32 = 0x0020_0000;
/** Power of two so a vCPU index turns into an address with a shift. */
export const VCPU_SIZE_LOG2: u32 = 14;
export const VCPU_SIZE: u32 = 1 << VCPU_SIZE_LOG2;
export const MAX_VCPUS: u32 = 1024;

export const FRAME_POOL: u32 = VCPUS + MAX_VCPUS * VCPU_SIZE; // 0x0120_0000

export const PAGE_SHIFT: u32 = 12;
export const PAGE_SIZE: u32 = 1 << PAGE_SHIFT;

@inline export function vcpuAddr(index: u32): usize {
  return <usize>(VCPUS + (index << VCPU_SIZE_LOG2));
}
