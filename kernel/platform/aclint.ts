// ACLINT (SiFive CLINT layout) emulated in the kernel: mswi (msip) and
// mtimer (mtimecmp, mtime) for the harts of the running partition.
//
//   0x0000 + 4*hart  msip       bit 0 = machine software interrupt pending
//   0x4000 + 8*hart  mtimecmp
//   0xbff8           mtime      10 MHz
//
// Unlike the other board devices (TypeScript, in the root partition), the
// CLINT lives in the kernel, as KVM keeps its timer and IPI paths in-kernel:
// it sits on the path of every timer interrupt and IPI and decides when a
// vCPU blocked in WFI wakes, which is the scheduler's business.
import { hart, H_MSIP, H_MTIMECMP, H_PARTITION } from '../cpu/hart';
import { vcpuAddr } from '../layout';
import { P_FIRST_VCPU, P_ID, P_MTIME_OFFSET, P_NVCPUS } from '../mm/partition';
import { requestResync } from '../cpu/exception';

export const CLINT_BASE: u64 = 0x0200_0000;
export const CLINT_SIZE: u64 = 0x1_0000;
const MTIMECMP_OFF: u32 = 0x4000;
const MTIME_OFF: u32 = 0xbff8;

/** The host's clock for partition `id`, in 10 MHz ticks (policy is the host's). */
@external('env', 'hostClock')
declare function hostClock(id: u32): f64;

@inline function partition(): usize {
  return <usize>load<u32>(hart, H_PARTITION);
}

export function mtime(): u64 {
  const p = partition();
  return <u64>hostClock(load<u32>(p, P_ID)) + load<u64>(p, P_MTIME_OFFSET);
}

/** vCPU block of hart `id` of the running partition, or 0 if there is none. */
function hartBlock(id: u32): usize {
  const p = partition();
  if (id >= load<u32>(p, P_NVCPUS)) return 0;
  return vcpuAddr(load<u32>(p, P_FIRST_VCPU) + id);
}

/** Reads `size` bytes (4 or 8; smaller reads see the low bytes) at offset `off`. */
export function clintRead(off: u32, size: u32): u64 {
  let v: u64 = 0;
  let base: u32 = 0;
  if (off < MTIMECMP_OFF) {
    const b = hartBlock(off >> 2);
    if (b) v = <u64>load<u32>(b, H_MSIP);
    base = off & ~3;
  } else if (off >= MTIME_OFF) {
    v = mtime();
    base = MTIME_OFF;
  } else {
    const b = hartBlock((off - MTIMECMP_OFF) >> 3);
    if (b) v = load<u64>(b, H_MTIMECMP);
    base = off & ~7;
  }
  v >>= <u64>((off - base) * 8);
  return size >= 8 ? v : v & ((<u64>1 << (size * 8)) - 1);
}

export function clintWrite(off: u32, size: u32, value: u64): void {
  if (off < MTIMECMP_OFF) {
    const b = hartBlock(off >> 2);
    if (b && (off & 3) == 0) atomic.store<u32>(b, <u32>value & 1, H_MSIP);
  } else if (off >= MTIME_OFF) {
    const p = partition();
    const shift = <u64>(off - MTIME_OFF) * 8;
    const mask: u64 = size >= 8 ? ~<u64>0 : ((<u64>1 << (<u64>size * 8)) - 1) << shift;
    const now = mtime();
    const next = (now & ~mask) | ((value << shift) & mask);
    store<u64>(p, load<u64>(p, P_MTIME_OFFSET) + (next - now), P_MTIME_OFFSET);
  } else {
    const rel = off - MTIMECMP_OFF;
    const b = hartBlock(rel >> 3);
    if (!b) return;
    const shift = <u64>(rel & 7) * 8;
    const mask: u64 = size >= 8 ? ~<u64>0 : ((<u64>1 << (<u64>size * 8)) - 1) << shift;
    const old = load<u64>(b, H_MTIMECMP);
    store<u64>(b, (old & ~mask) | ((value << shift) & mask), H_MTIMECMP);
  }
  // A new comparator or IPI can make an interrupt pending: re-evaluate.
  requestResync();
}
