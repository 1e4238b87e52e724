// SynIC delivery: what the host (the root's channel manager) does to a
// vCPU's SynIC, from any thread. Layout and numbers: synic-defs.ts; the
// guest's side (register access, post-message, signal-event, EOM) is
// kernel/hypercall/synic.ts.
//
// A message slot is the guest's once filled: the host writes it only while
// its message_type is HVMSG_NONE, and publishes the type last. A slot still
// full gets msg_pending instead; the guest, having freed the slot, sees it
// and writes EOM, and the host retries then (TLFS 11.10.3; Linux
// vmbus_signal_eom). Both sides order "free/test type" against "test/set
// pending" with sequentially consistent atomics, so neither misses the other.
import { hart, H_ATTENTION, H_EXT_IRQ, H_PARTITION, H_SYNIC } from '../cpu/hart';
import { vcpuAddr } from '../layout';
import { partitionHostForStore } from '../mm/gpa';
import {
  EVENT_FLAGS_COUNT, MSG_FLAG_PENDING, MSG_FLAGS, MSG_PAYLOAD, MSG_PAYLOAD_MAX, MSG_PAYLOAD_SIZE,
  MSG_SIZE, MSG_TYPE, SINT_AUTO_EOI, SINT_COUNT, SINT_LINE_SHIFT, SINT_MASKED, SY_AUTO_EOI, SY_END, SY_HOSTMSG,
  SY_SCONTROL, SY_SIEFP, SY_SIMP, SY_SINT, SY_STAT_EVENTS, SY_STAT_MESSAGES, SYNIC_BAD_ARG, SYNIC_BAD_PAGE,
  SYNIC_BUSY, SYNIC_ENABLE, SYNIC_OFF, SYNIC_OK, SYNIC_SET,
} from './synic-defs';

/** The SynIC of a vCPU leaving reset: disabled, every SINT masked (TLFS: the reset value of SINTx). */
export function synicReset(v: usize): void {
  memory.fill(v + H_SYNIC, 0, SY_END - H_SYNIC);
  for (let s: u32 = 0; s < SINT_COUNT; s++) store<u64>(v + SY_SINT + (s << 3), SINT_MASKED);
  atomic.and<u32>(v + H_EXT_IRQ, (1 << SINT_LINE_SHIFT) - 1); // no SINT asserted
}

/** Asserts SINT `sint` of the vCPU at `v` unless masked; true if asserted. The caller wakes the vCPU. */
export function synicAssert(v: usize, sint: u32): bool {
  if (load<u64>(v + SY_SINT + (sint << 3)) & SINT_MASKED) return false;
  atomic.or<u32>(v + H_EXT_IRQ, 1 << (SINT_LINE_SHIFT + sint));
  atomic.store<u32>(v + H_ATTENTION, 1); // a running vCPU looks at its lines after this instruction
  return true;
}

/** The running vCPU takes a supervisor external interrupt: its auto-EOI SINTs stop being asserted. */
export function synicAutoEoi(): void {
  const mask = load<u32>(hart, SY_AUTO_EOI);
  if (mask) atomic.and<u32>(hart + H_EXT_IRQ, ~(mask << SINT_LINE_SHIFT));
}

/** Recomputes the cached auto-EOI bitmap after a SINT register changed. */
export function synicUpdateAutoEoi(v: usize): void {
  let mask: u32 = 0;
  for (let s: u32 = 0; s < SINT_COUNT; s++) if (load<u64>(v + SY_SINT + (s << 3)) & SINT_AUTO_EOI) mask |= 1 << s;
  store<u32>(v + SY_AUTO_EOI, mask);
}

/**
 * Host address of the 256-byte area for `sint` in the page `reg` (SIMP or
 * SIEFP) of the vCPU at `v`, for the host to write, or 0 when the SynIC or
 * the page is disabled, or -1 when the page is not the partition's RAM.
 * Through the store choke point (mm/gpa.ts): the page is marked in the
 * dirty log, and a page shared copy-on-write gets its private copy first
 * (a zero SIMP page may share the zero frame with every partition).
 */
function pageArea(v: usize, reg: u32, sint: u32): i64 {
  if (!(load<u64>(v + SY_SCONTROL) & SYNIC_ENABLE)) return 0;
  const r = load<u64>(v + reg);
  if (!(r & SYNIC_ENABLE)) return 0;
  return partitionHostForStore(<usize>load<u32>(v, H_PARTITION), (r & ~<u64>0xfff) + <u64>(sint * MSG_SIZE), 0);
}

/**
 * Delivers the message the host wrote at the vCPU's SY_HOSTMSG (an
 * hv_message: type, payload size, sender, payload) to SINT `sint` of vCPU
 * `index`. `more`: the host has more queued for this SINT (msg_pending).
 */
export function synicDeliver(index: u32, sint: u32, more: bool): u32 {
  const v = vcpuAddr(index);
  if (sint >= SINT_COUNT) return SYNIC_BAD_ARG;
  const src = v + SY_HOSTMSG;
  const type = load<u32>(src, MSG_TYPE);
  if (type == 0 || <u32>load<u8>(src, MSG_PAYLOAD_SIZE) > MSG_PAYLOAD_MAX) return SYNIC_BAD_ARG;
  if (load<u64>(v + SY_SINT + (sint << 3)) & SINT_MASKED) return SYNIC_OFF;
  const area = pageArea(v, SY_SIMP, sint);
  if (area == 0) return SYNIC_OFF;
  if (area < 0) return SYNIC_BAD_PAGE;
  const slot = <usize>area;
  if (atomic.load<u32>(slot, MSG_TYPE) != 0) {
    // Full: ask for an EOM, then look again, in case the guest freed the
    // slot before it could see msg_pending (then it will not EOM).
    atomic.or<u32>(slot + MSG_PAYLOAD_SIZE, MSG_FLAG_PENDING << 8); // the u32 holding the flags byte
    if (atomic.load<u32>(slot, MSG_TYPE) != 0) return SYNIC_BUSY;
  }
  memory.copy(slot + MSG_PAYLOAD, src + MSG_PAYLOAD, MSG_PAYLOAD_MAX);
  store<u64>(slot, load<u64>(src + 8), 8); // sender
  store<u8>(slot, load<u8>(src, MSG_PAYLOAD_SIZE), MSG_PAYLOAD_SIZE);
  store<u8>(slot, more ? <u8>MSG_FLAG_PENDING : 0, MSG_FLAGS);
  store<u16>(slot, 0, 6);
  atomic.store<u32>(slot, type, MSG_TYPE); // publishes the message
  store<u64>(v + SY_STAT_MESSAGES, load<u64>(v + SY_STAT_MESSAGES) + 1);
  synicAssert(v, sint);
  return SYNIC_OK;
}

/**
 * Sets event flag `flag` of SINT `sint` in vCPU `index`'s event-flags page
 * (a channel's relid, Linux vmbus_chan_sched) and asserts the SINT if the
 * flag was clear. SYNIC_SET: it was set already, the guest has yet to see it.
 */
export function synicSignal(index: u32, sint: u32, flag: u32): u32 {
  const v = vcpuAddr(index);
  if (sint >= SINT_COUNT || flag >= EVENT_FLAGS_COUNT) return SYNIC_BAD_ARG;
  const area = pageArea(v, SY_SIEFP, sint);
  if (area == 0) return SYNIC_OFF;
  if (area < 0) return SYNIC_BAD_PAGE;
  const word = <usize>area + ((flag >> 5) << 2);
  const bit: u32 = 1 << (flag & 31);
  if (atomic.or<u32>(word, bit) & bit) return SYNIC_SET;
  store<u64>(v + SY_STAT_EVENTS, load<u64>(v + SY_STAT_EVENTS) + 1);
  return synicAssert(v, sint) ? SYNIC_OK : SYNIC_OFF;
}
