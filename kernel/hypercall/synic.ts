// The guest's side of the SynIC and VMBus hypercalls (EID_HV, FIDs
// 0x40-0x44; README.md "VMBus and the SynIC"). The registers are the TLFS's,
// named as arm64 Hyper-V names them (no MSRs on RISC-V either):
//
//   FID 0x40 get_register(name)         -> value
//   FID 0x41 set_register(name, value)  EOM: the host retries queued messages
//   FID 0x42 post_message(gpa)          gpa of a struct hv_input_post_message
//   FID 0x43 signal_event(input)        struct hv_input_signal_event as a u64:
//                                       connection id [23:0], flag number [47:32]
//   FID 0x44 claim()                    -> the asserted SINTs (bit n = SINTn), now cleared
//
// post_message and EOM are control-path calls that exit to the host (as a
// hypercall intercept is on Hyper-V); signal_event is the data path: a bit
// in the partition's host event area and an Atomics notify, no exit unless
// the host asked for one (deterministic hosts service it synchronously).
import { hart, H_EXT_IRQ } from '../cpu/hart';
import { P_VMBUS } from '../mm/partition';
import {
  CONNECTION_ID_MASK, EVENT_FLAGS_COUNT, HE_BITMAP, HE_DOORBELL, HE_EXIT_ON_SIGNAL, HE_FLAGS, HE_SERVED, HE_SERVER_BELL, HE_SERVER_BITMAP, HV_REGISTER_EOM,
  HV_REGISTER_SCONTROL, HV_REGISTER_SIEFP, HV_REGISTER_SIMP, HV_REGISTER_SINT0, HV_REGISTER_SVERSION,
  HV_SYNIC_VERSION_1, MSG_PAYLOAD_MAX, MSG_SIZE, MSG_TYPE_HYPERVISOR, POST_CONNECTION_ID, POST_MESSAGE_TYPE,
  POST_PAYLOAD, POST_PAYLOAD_SIZE, SINT_BITS, SINT_COUNT, SINT_LINE_SHIFT, SY_POST, SY_SCONTROL, SY_SIEFP, SY_SIMP,
  SY_SINT, SY_STAT_EOMS, SY_STAT_POSTS, SY_STAT_SIGNALS, SYNIC_ENABLE,
} from '../vmbus/synic-defs';
import { synicUpdateAutoEoi } from '../vmbus/synic';
import { arg, callerPartition, ret, retErr } from './abi';
import {
  SBI_ERR_DENIED, SBI_ERR_INVALID_ADDRESS, SBI_ERR_INVALID_PARAM, SBI_SUCCESS, SbiExit,
} from './defs';
import { hostExit } from './exits';
import { physHost, physIsRam, physMapped } from './guestmem';

@inline function bump(off: u32): void {
  store<u64>(hart + off, load<u64>(hart + off) + 1);
}

/** Offset in the vCPU block of register `name`, or 0 for EOM, SVERSION and unknown names. */
function regOffset(name: u64): u32 {
  if (name >= <u64>HV_REGISTER_SINT0 && name < <u64>(HV_REGISTER_SINT0 + SINT_COUNT)) {
    return SY_SINT + ((<u32>name - HV_REGISTER_SINT0) << 3);
  }
  if (name == <u64>HV_REGISTER_SCONTROL) return SY_SCONTROL;
  if (name == <u64>HV_REGISTER_SIEFP) return SY_SIEFP;
  if (name == <u64>HV_REGISTER_SIMP) return SY_SIMP;
  return 0;
}

export function synicGetRegister(): void {
  const name = arg(0);
  if (name == <u64>HV_REGISTER_SVERSION) ret(SBI_SUCCESS, HV_SYNIC_VERSION_1);
  else if (name == <u64>HV_REGISTER_EOM) ret(SBI_SUCCESS, 0);
  else {
    const off = regOffset(name);
    if (off) ret(SBI_SUCCESS, load<u64>(hart + off));
    else retErr(SBI_ERR_INVALID_PARAM);
  }
}

export function synicSetRegister(): void {
  const name = arg(0);
  const value = arg(1);
  if (name == <u64>HV_REGISTER_EOM) {
    // The guest freed a slot that had msg_pending: the host's queue goes on.
    bump(SY_STAT_EOMS);
    retErr(SBI_SUCCESS);
    hostExit(SbiExit.SYNIC_EOM);
    return;
  }
  if (name == <u64>HV_REGISTER_SVERSION) {
    retErr(SBI_ERR_DENIED); // read-only
    return;
  }
  const off = regOffset(name);
  if (!off) {
    retErr(SBI_ERR_INVALID_PARAM);
    return;
  }
  if (off == SY_SIMP || off == SY_SIEFP) {
    // An enabled page must be a page of the caller's RAM: the host writes it.
    const gpa = value & ~<u64>0xfff;
    if (value & SYNIC_ENABLE && (!physIsRam(gpa, 4096) || !physMapped(gpa, 4096))) {
      retErr(SBI_ERR_INVALID_ADDRESS);
      return;
    }
    store<u64>(hart + off, value & (~<u64>0xfff | SYNIC_ENABLE));
  } else if (off == SY_SCONTROL) {
    store<u64>(hart + off, value & SYNIC_ENABLE);
  } else {
    store<u64>(hart + off, value & SINT_BITS);
    synicUpdateAutoEoi(hart);
  }
  retErr(SBI_SUCCESS);
}

/**
 * HvPostMessage: copies the caller's struct hv_input_post_message into the
 * vCPU block and exits to the host, which takes it (and may rewrite a0 with
 * its refusal: DENIED when its queue is full, INVALID_PARAM for a
 * connection id nobody listens on).
 */
export function synicPostMessage(): void {
  const gpa = arg(0);
  // TLFS: the input is 8-byte aligned and within one page.
  if (gpa & 7 || (gpa & 0xfff) + <u64>MSG_SIZE > 4096 || !physIsRam(gpa, MSG_SIZE) || !physMapped(gpa, MSG_SIZE)) {
    retErr(SBI_ERR_INVALID_ADDRESS);
    return;
  }
  const src = physHost(gpa);
  const type = load<u32>(src, POST_MESSAGE_TYPE);
  const size = load<u32>(src, POST_PAYLOAD_SIZE);
  const conn = load<u32>(src, POST_CONNECTION_ID);
  if (type == 0 || type >= MSG_TYPE_HYPERVISOR || size > MSG_PAYLOAD_MAX || conn & ~CONNECTION_ID_MASK) {
    retErr(SBI_ERR_INVALID_PARAM);
    return;
  }
  const dst = hart + SY_POST;
  memory.copy(dst, src, POST_PAYLOAD + size);
  memory.fill(dst + POST_PAYLOAD + size, 0, MSG_PAYLOAD_MAX - size);
  bump(SY_STAT_POSTS);
  retErr(SBI_SUCCESS);
  hostExit(SbiExit.POST_MESSAGE);
}

/**
 * HvSignalEvent: sets the connection's bit in the partition's host event
 * area and rings its doorbell if the bit was clear (a host endpoint waits on
 * it with Atomics.wait). No exit unless the host asked for one.
 */
export function synicSignalEvent(): void {
  const input = arg(0);
  const conn = <u32>input & CONNECTION_ID_MASK;
  const area = <usize>load<u32>(callerPartition(), P_VMBUS);
  // Reserved bits must be zero; a connection nobody set up is refused (HV_STATUS_INVALID_CONNECTION_ID).
  if (input >> 48 || (<u32>input & ~CONNECTION_ID_MASK) || conn >= EVENT_FLAGS_COUNT || !area) {
    retErr(SBI_ERR_INVALID_PARAM);
    return;
  }
  bump(SY_STAT_SIGNALS);
  retErr(SBI_SUCCESS);
  const at: usize = (conn >> 5) << 2;
  const bit: u32 = 1 << (conn & 31);
  // An endpoint thread of its own serves the connection: its bitmap, its doorbell, no exit.
  const server = <usize>atomic.load<u32>(area + HE_SERVER_BELL);
  if (server && atomic.load<u32>(area + HE_SERVED + at) & bit) {
    if (!(atomic.or<u32>(area + HE_SERVER_BITMAP + at, bit) & bit)) {
      atomic.add<u32>(server, 1);
      atomic.notify(server, 1);
    }
    return;
  }
  if (!(atomic.or<u32>(area + HE_BITMAP + at, bit) & bit)) {
    atomic.add<u32>(area + HE_DOORBELL, 1);
    atomic.notify(area + HE_DOORBELL, 1);
  }
  if (atomic.load<u32>(area + HE_FLAGS) & HE_EXIT_ON_SIGNAL) hostExit(SbiExit.SIGNAL_EVENT);
}

/** Returns and clears the asserted SINTs (the guest's interrupt acknowledge; the SEIP they drove drops). */
export function synicClaim(): void {
  const old = atomic.and<u32>(hart + H_EXT_IRQ, (1 << SINT_LINE_SHIFT) - 1);
  ret(SBI_SUCCESS, <u64>(old >>> SINT_LINE_SHIFT));
}
