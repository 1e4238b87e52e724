// SBI numbers (RISC-V SBI specification v2.0) and this implementation's own.
//
// Calling convention (spec chapter 3): a7 = extension id (EID), a6 = function
// id (FID), arguments in a0-a5; the call returns a0 = error, a1 = value and
// preserves every other register. Legacy extensions (EID 0x00-0x0F) take no
// FID and return one value in a0.

// ---- errors (spec table 1) ----
export const SBI_SUCCESS: i64 = 0;
export const SBI_ERR_FAILED: i64 = -1;
export const SBI_ERR_NOT_SUPPORTED: i64 = -2;
export const SBI_ERR_INVALID_PARAM: i64 = -3;
export const SBI_ERR_DENIED: i64 = -4;
export const SBI_ERR_INVALID_ADDRESS: i64 = -5;
export const SBI_ERR_ALREADY_AVAILABLE: i64 = -6;

// ---- extension ids ----
export const EID_LEGACY_SET_TIMER: u64 = 0x00;
export const EID_LEGACY_PUTCHAR: u64 = 0x01;
export const EID_LEGACY_GETCHAR: u64 = 0x02;
export const EID_LEGACY_CLEAR_IPI: u64 = 0x03;
export const EID_LEGACY_SEND_IPI: u64 = 0x04;
export const EID_LEGACY_FENCE_I: u64 = 0x05;
export const EID_LEGACY_SFENCE_VMA: u64 = 0x06;
export const EID_LEGACY_SFENCE_VMA_ASID: u64 = 0x07;
export const EID_LEGACY_SHUTDOWN: u64 = 0x08;
export const EID_LEGACY_LAST: u64 = 0x0f; // 0x09-0x0F are reserved: NOT_SUPPORTED
export const EID_BASE: u64 = 0x10;
export const EID_TIME: u64 = 0x54494d45; // "TIME"
export const EID_IPI: u64 = 0x735049; // "sPI"
export const EID_RFENCE: u64 = 0x52464e43; // "RFNC"
export const EID_HSM: u64 = 0x48534d; // "HSM"
export const EID_SRST: u64 = 0x53525354; // "SRST"
export const EID_DBCN: u64 = 0x4442434e; // "DBCN"

// ---- this implementation ----
/**
 * sbi_get_impl_id. Registered ids are small (0 BBL, 1 OpenSBI, 2 Xvisor,
 * 3 KVM, 4 RustSBI, ...); ours is unregistered, so it is ASCII "hv", far
 * from them. It must stay below 2^24: the hypervisor-call extension lives at
 * EID 0x0A000000 | impl_id in the firmware-specific range (design.md).
 */
export const SBI_IMPL_ID: u64 = 0x6876;
/** sbi_get_impl_version: major << 16 | minor (OpenSBI's encoding), 0.1 = package 0.1.x. */
export const SBI_IMPL_VERSION: u64 = (0 << 16) | 1;
/** sbi_get_spec_version: major << 24 | minor -> 2.0. */
export const SBI_SPEC_VERSION: u64 = (2 << 24) | 0;
export const EID_HV: u64 = 0x0a00_0000 | SBI_IMPL_ID; // 0x0A006876

// ---- Base (EID 0x10) ----
export const BASE_GET_SPEC_VERSION: u32 = 0;
export const BASE_GET_IMPL_ID: u32 = 1;
export const BASE_GET_IMPL_VERSION: u32 = 2;
export const BASE_PROBE_EXTENSION: u32 = 3;
export const BASE_GET_MVENDORID: u32 = 4;
export const BASE_GET_MARCHID: u32 = 5;
export const BASE_GET_MIMPID: u32 = 6;

// ---- HSM states (spec table "HSM Hart States") ----
export const HSM_STARTED: u64 = 0;
export const HSM_STOPPED: u64 = 1;
export const HSM_START_PENDING: u64 = 2;
export const HSM_STOP_PENDING: u64 = 3;
export const HSM_SUSPENDED: u64 = 4;
export const HSM_SUSPEND_RETENTIVE: u64 = 0x0000_0000;
export const HSM_SUSPEND_NON_RETENTIVE: u64 = 0x8000_0000;

// ---- SRST ----
export const SRST_SHUTDOWN: u32 = 0;
export const SRST_COLD_REBOOT: u32 = 1;
export const SRST_WARM_REBOOT: u32 = 2;
export const SRST_REASON_NONE: u32 = 0;
export const SRST_REASON_FAILURE: u32 = 1;
/** SBI-implementation-specific reasons 0xE0000000-0xEFFFFFFF: ours are 0xE0000000 | exit code (0-255). */
export const SRST_REASON_HV_EXIT: u32 = 0xe000_0000;

// ---- hypervisor calls (EID_HV); 0x00-0x3F informational, 0x40-0x4F SynIC and VMBus ----
export const HV_GET_PARTITION_ID: u32 = 0;
export const HV_GET_VCPU_INDEX: u32 = 1;
export const HV_YIELD: u32 = 2;
export const HV_GET_STAT: u32 = 3;
export const HV_GET_VCPU_COUNT: u32 = 4;
// SynIC and VMBus (hypercall/synic.ts): 0x40-0x4F.
export const HV_SYNIC_GET_REGISTER: u32 = 0x40;
export const HV_SYNIC_SET_REGISTER: u32 = 0x41;
export const HV_POST_MESSAGE: u32 = 0x42;
export const HV_SIGNAL_EVENT: u32 = 0x43;
export const HV_SYNIC_CLAIM: u32 = 0x44;
// HV_GET_STAT counters (a0).
export const HV_STAT_INSTRET: u64 = 0;
export const HV_STAT_SBI_CALLS: u64 = 1;
export const HV_STAT_TRAPS: u64 = 2;
export const HV_STAT_INTERRUPTS: u64 = 3;
export const HV_STAT_TLB_MISSES: u64 = 4;
export const HV_STAT_TLB_FLUSHES: u64 = 5;
export const HV_STAT_PAGE_WALKS: u64 = 6;
export const HV_STAT_MMIO: u64 = 7;

/** What an SBI call asks of the host (H_SBI_EXIT; the host clears it). */
export namespace SbiExit {
  export const NONE: u32 = 0;
  export const CONSOLE: u32 = 1; // the console ring is full: drain it
  export const RESET: u32 = 2; // SRST: type and reason in H_SBI_EXIT_TYPE / _REASON
  export const YIELD: u32 = 3; // hypervisor call: give the pCPU to someone else
  export const HART_STOP: u32 = 4; // HSM hart_stop: this vCPU is now stopped
  export const POST_MESSAGE: u32 = 5; // hv post_message: the message is in the vCPU's SynIC post buffer
  export const SYNIC_EOM: u32 = 6; // SynIC EOM: deliver what is queued for this vCPU's SINTs
  export const SIGNAL_EVENT: u32 = 7; // hv signal_event, on a partition whose host asked for the exit
}

/** How the interpreter continues after an SBI call (see sbiEcall). */
export const SBI_NEXT: u32 = 0; // at pc + 4
export const SBI_RETRY: u32 = 1; // re-execute the ECALL (after the host has drained the console)
export const SBI_SUSPEND: u32 = 2; // at pc + 4, stalled as by WFI (HSM retentive suspend)

// Fence kinds queued in H_FENCE_PENDING.
export const FENCE_VMA: u32 = 1;
export const FENCE_I: u32 = 2;
