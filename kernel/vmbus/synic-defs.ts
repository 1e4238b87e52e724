// The synthetic interrupt controller (SynIC): Hyper-V TLFS chapter 11, in
// the layouts Linux uses (include/asm-generic/hyperv-tlfs.h). RISC-V has no
// MSRs: its registers are reached as on arm64 Hyper-V, by register name
// through a hypercall (HV_REGISTER_* below; kernel/hypercall/synic.ts).
//
// Per vCPU, in its block (H_SYNIC = 0x900, see cpu/hart.ts):
//
//   +0x900 scontrol u64   bit 0 enable
//   +0x908 siefp    u64   bit 0 enable, [63:12] GPA of the event-flags page
//   +0x910 simp     u64   bit 0 enable, [63:12] GPA of the message page
//   +0x918 sint[16] u64   [7:0] vector, bit 16 masked, 17 auto-EOI, 18 polling
//   +0x998 auto_eoi u32   bitmap of SINTs with auto-EOI (cached from sint[])
//   +0x9a0 statistics u64: messages delivered, events signalled to the guest,
//          post-message calls, signal-event calls, EOMs
//   +0xa00 post[256]      the hv_input_post_message of the guest's last
//                         post-message, for the host (SbiExit.POST_MESSAGE)
//   +0xb00 hostmsg[256]   a message the host is delivering (struct
//                         hv_message: header + payload), see synicDeliver
//   +0xc00
//
// Which SINTs are asserted (waiting for the guest) is bits 16..31 of the
// vCPU's external-interrupt word H_EXT_IRQ: any of them makes SEIP pending
// (cpu/interrupts.ts), so a SINT reaches a vCPU wherever it is by the path
// every device interrupt takes (atomic or, kick, wake).
import { H_SYNIC } from '../cpu/hart';

export const SY_SCONTROL: u32 = H_SYNIC + 0x00;
export const SY_SIEFP: u32 = H_SYNIC + 0x08;
export const SY_SIMP: u32 = H_SYNIC + 0x10;
export const SY_SINT: u32 = H_SYNIC + 0x18;
export const SY_AUTO_EOI: u32 = H_SYNIC + 0x98;
export const SY_STAT_MESSAGES: u32 = H_SYNIC + 0xa0;
export const SY_STAT_EVENTS: u32 = H_SYNIC + 0xa8;
export const SY_STAT_POSTS: u32 = H_SYNIC + 0xb0;
export const SY_STAT_SIGNALS: u32 = H_SYNIC + 0xb8;
export const SY_STAT_EOMS: u32 = H_SYNIC + 0xc0;
export const SY_POST: u32 = H_SYNIC + 0x100;
export const SY_HOSTMSG: u32 = H_SYNIC + 0x200;
export const SY_END: u32 = H_SYNIC + 0x300;

export const SINT_COUNT: u32 = 16;
/** SINT lines in H_EXT_IRQ start at this bit (below: the PLIC's MEIP/SEIP). */
export const SINT_LINE_SHIFT: u32 = 16;

// ---- register names (TLFS; Linux HV_REGISTER_*, as arm64 Hyper-V uses them) ----
export const HV_REGISTER_SINT0: u32 = 0x000a_0000; // .. SINT15 = 0x000A000F
export const HV_REGISTER_SCONTROL: u32 = 0x000a_0010;
export const HV_REGISTER_SVERSION: u32 = 0x000a_0011;
export const HV_REGISTER_SIEFP: u32 = 0x000a_0012;
export const HV_REGISTER_SIMP: u32 = 0x000a_0013;
export const HV_REGISTER_EOM: u32 = 0x000a_0014;

export const HV_SYNIC_VERSION_1: u64 = 1;
export const SYNIC_ENABLE: u64 = 1; // bit 0 of SCONTROL, SIMP, SIEFP
export const SINT_VECTOR_MASK: u64 = 0xff;
export const SINT_MASKED: u64 = 1 << 16;
export const SINT_AUTO_EOI: u64 = 1 << 17;
export const SINT_POLLING: u64 = 1 << 18;
/** The bits of a SINT register that hold state; the rest are reserved and read as 0. */
export const SINT_BITS: u64 = SINT_VECTOR_MASK | SINT_MASKED | SINT_AUTO_EOI | SINT_POLLING;

// ---- struct hv_message (256 B), the message page is 16 of them, one per SINT ----
export const MSG_SIZE: u32 = 256;
export const MSG_TYPE: u32 = 0; // u32, 0 = HVMSG_NONE: the slot is free
export const MSG_PAYLOAD_SIZE: u32 = 4; // u8
export const MSG_FLAGS: u32 = 5; // u8, bit 0 msg_pending
export const MSG_SENDER: u32 = 8; // u64 (port id for VMBus)
export const MSG_PAYLOAD: u32 = 16;
export const MSG_PAYLOAD_MAX: u32 = 240;
export const MSG_FLAG_PENDING: u32 = 1;
/** Guests may only post message types below 0x80000000 (those above are the hypervisor's own). */
export const MSG_TYPE_HYPERVISOR: u32 = 0x8000_0000;

// ---- struct hv_input_post_message (TLFS HvPostMessage input) ----
export const POST_CONNECTION_ID: u32 = 0; // u32: id [23:0], reserved [31:24]
export const POST_MESSAGE_TYPE: u32 = 8; // u32
export const POST_PAYLOAD_SIZE: u32 = 12; // u32
export const POST_PAYLOAD: u32 = 16;
export const CONNECTION_ID_MASK: u32 = 0x00ff_ffff;

// ---- event flags: 16 x 256 B bitmaps (2048 flags each), LSB first ----
export const EVENT_FLAGS_SIZE: u32 = 256;
export const EVENT_FLAGS_COUNT: u32 = 2048;

// ---- the partition's host event area (P_VMBUS, one page from the frame pool) ----
// Where a guest's signal-event lands for the root's channel endpoints:
//   +0 doorbell u32   bumped (and Atomics-notified) when a flag goes 0 -> 1
//   +4 flags u32      bit 0: the signal also exits to the host (SbiExit.SIGNAL_EVENT)
//   +64 connection-id bitmap, EVENT_FLAGS_COUNT bits, LSB first
// A connection whose bit is set in the server bitmap (+512) is served by an
// endpoint thread of its own (runtime/host/endpoint-worker.ts), not by the
// thread that watches the doorbell above: its signal sets its bit in the
// server's bitmap (+1024) instead, and, when that bit was clear, bumps and
// notifies the u32 at the host address in +8 (that thread's own doorbell,
// one for every partition it serves). The host sets +8 before any server bit.
//   +8 server doorbell address u32, +512 server bitmap, +1024 server's signalled bitmap
export const HE_DOORBELL: u32 = 0;
export const HE_FLAGS: u32 = 4;
export const HE_SERVER_BELL: u32 = 8;
export const HE_BITMAP: u32 = 64;
export const HE_SERVED: u32 = 512;
export const HE_SERVER_BITMAP: u32 = 1024;
export const HE_EXIT_ON_SIGNAL: u32 = 1;

// ---- results of the host's calls (synicDeliver, synicSignal) ----
export const SYNIC_OK: u32 = 0; // delivered and the SINT asserted (the caller wakes the vCPU)
export const SYNIC_BUSY: u32 = 1; // the slot holds a message: msg_pending set, retry after the guest's EOM
export const SYNIC_OFF: u32 = 2; // SynIC, the page or the SINT is disabled or masked: nothing delivered
export const SYNIC_BAD_PAGE: u32 = 3; // the page the guest named is not its RAM
export const SYNIC_BAD_ARG: u32 = 4; // SINT, flag or size out of range
export const SYNIC_SET: u32 = 5; // synicSignal: the flag was already set, no new interrupt
