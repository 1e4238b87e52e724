// Guest-physical to host translation (the second stage).
//
// For now a partition's RAM is one contiguous run of host frames, so the
// second stage is a range check plus an offset. Nested (Sv39x4 G-stage) and
// shadow paging replace this function without changing its callers: they
// all go through gpaToHost and cache the result in the software TLB.
import { hart, H_PARTITION } from '../cpu/hart';
import { P_RAM_GPA, P_RAM_HOST, P_RAM_SIZE, P_WATCH_GPA } from './partition';

/** Host address of guest-physical `gpa`, or -1 if it is not RAM. */
@inline export function gpaToHost(gpa: u64): i64 {
  const p = <usize>load<u32>(hart, H_PARTITION);
  const off = gpa - load<u64>(p, P_RAM_GPA);
  if (off >= load<u64>(p, P_RAM_SIZE)) return -1;
  return <i64>(<u64>load<u32>(p, P_RAM_HOST) + off);
}

/** True if `gpa` lies in a RAM range of `len` bytes entirely. */
@inline export function gpaIsRam(gpa: u64, len: u64): bool {
  const p = <usize>load<u32>(hart, H_PARTITION);
  const off = gpa - load<u64>(p, P_RAM_GPA);
  const size = load<u64>(p, P_RAM_SIZE);
  return off < size && len <= size - off;
}

/** Stores to the watched page must reach the slow path (HTIF tohost). */
@inline export function gpaPageWatched(gpaPage: u64): bool {
  const p = <usize>load<u32>(hart, H_PARTITION);
  return load<u64>(p, P_WATCH_GPA) == gpaPage;
}
