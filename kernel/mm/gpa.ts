// Guest-physical to host translation (the second stage), per partition:
//
//  - direct: the partition's RAM is one contiguous run of host frames; the
//    second stage is a range check plus an offset (single-partition machines);
//  - nested (PF_NESTED): real Sv39x4 G-stage tables (mmu/gstage.ts), walked
//    on every TLB miss — the two-dimensional walk of hardware nested paging;
//  - shadow with page sharing or ballooning: the same tables as its P2M
//    (any partition with P_GSTAGE_ROOT set translates through them), so a
//    page can move to a shared frame or leave RAM (mm/share.ts).
//
// Every caller goes through gpaToHost, and the software TLB caches the end
// result, so the mode costs only on misses (counted per vCPU).
import { hart, H_PARTITION } from '../cpu/hart';
import { gpteFrame, GPTE_V, gstageLeafSlot, gstageWalk } from '../mmu/gstage';
import { dirtyMark } from './dirty';
import { jitFrameWritten } from '../jit/code';
import { P_GSTAGE_ROOT, P_RAM_GPA, P_RAM_HOST, P_RAM_SIZE, P_WATCH_GPA } from './partition';
import { shareActive } from './share';
import { shareZeroRead } from './share-cow';
import { shareRefaultZero, shareStoreHost } from './share-cow';
import { leafOut, SWAP_HOST, swapMissing } from './swap';

@inline function partition(): usize {
  return <usize>load<u32>(hart, H_PARTITION);
}

/**
 * What gpaToHostForStore (and partitionHostForStore) return for a RAM page
 * that needed a frame when the pool had none: the store must not happen
 * (the vCPU takes the no-memory exit, cpu/exception.ts raiseNoMemory; the
 * host's DMA fails with a typed error).
 */
export const NO_FRAME: i64 = -3;

/** Host address of guest-physical `gpa`, or -1 if it is not RAM. */
export function gpaToHost(gpa: u64): i64 {
  const p = partition();
  const root = load<u32>(p, P_GSTAGE_ROOT);
  if (root) {
    const host = gstageWalk(root, gpa);
    if (host >= 0 || !shareActive(p)) return host;
    // A ballooned page reads as zeros (mapped to the zero frame); a swapped
    // one exits to the root to be read back (mm/swap.ts).
    const slot = gstageLeafSlot(root, gpa);
    const zero = shareRefaultZero(p, slot, gpa);
    return zero >= 0 ? zero : swapMissing(slot, gpa, hart);
  }
  const off = gpa - load<u64>(p, P_RAM_GPA);
  if (off >= load<u64>(p, P_RAM_SIZE)) return -1;
  return <i64>(<u64>load<u32>(p, P_RAM_HOST) + off);
}

/**
 * Host address for a WRITE to guest-physical `gpa`, or -1 if it is not RAM,
 * or NO_FRAME when it needed a frame and the pool had none.
 *
 * The one choke point of every write into guest memory the kernel makes:
 * the store TLB fill (mmu/access.ts), the page walk's A/D updates
 * (mmu/walk.ts) and SBI calls writing guest memory (hypercall/guestmem.ts
 * physHostForStore). What a write to a page needs happens here, before the
 * caller writes or caches the address: the page is marked in the dirty log
 * (mm/dirty.ts), which is what lets a store TLB entry filled from this skip
 * the check until the log is next fetched. Page sharing will break
 * copy-on-write here too (the address returned is then a private frame).
 * Never write through gpaToHost.
 */
export function gpaToHostForStore(gpa: u64): i64 {
  return partitionHostForStore(partition(), gpa, hart);
}

/**
 * gpaToHostForStore for partition `p` from any thread: `self` is the
 * writing vCPU, 0 for the host (device DMA, loaders: runtime's guest
 * memory views). A shared page gets a private copy first (copy-on-write
 * break, mm/share.ts), a ballooned one a fresh frame.
 */
export function partitionHostForStore(p: usize, gpa: u64, self: usize): i64 {
  let host: i64;
  if (shareActive(p)) {
    const root = load<u32>(p, P_GSTAGE_ROOT);
    host = shareStoreHost(p, root, gpa, self);
    // Swapped out: the vCPU exits to have it read back, the host gets SWAP_HOST.
    if (host == -1) host = swapMissing(gstageLeafSlot(root, gpa), gpa, self);
  } else {
    host = partitionHost(p, gpa);
  }
  if (host >= 0) {
    dirtyMark(p, gpa);
    jitFrameWritten(<u32>host); // translated code from this frame is stale (jit/code.ts)
  }
  return host;
}

/**
 * Host address of `gpa` of partition `p` for a read, from any thread
 * (counts nothing on any vCPU); -1 if it is not RAM. A ballooned page reads
 * as the zero frame; a swapped one is SWAP_HOST (mm/swap.ts: the host swaps
 * it in and asks again).
 */
export function partitionHost(p: usize, gpa: u64): i64 {
  const root = load<u32>(p, P_GSTAGE_ROOT);
  if (root) {
    const slot = gstageLeafSlot(root, gpa);
    const pte = slot ? atomic.load<u64>(slot) : 0;
    if (pte & GPTE_V) return <i64>gpteFrame(pte) + <i64>(gpa & 0xfff);
    const zero = shareActive(p) ? shareZeroRead(pte, gpa) : -1; // read in place: the page stays as it is
    if (zero >= 0) return zero;
    if (!shareActive(p)) return -1;
    return leafOut(pte) ? SWAP_HOST : shareRefaultZero(p, slot, gpa);
  }
  const off = gpa - load<u64>(p, P_RAM_GPA);
  if (off >= load<u64>(p, P_RAM_SIZE)) return -1;
  return <i64>(<u64>load<u32>(p, P_RAM_HOST) + off);
}

/**
 * Host address of `gpa` of partition `p` if its page has a frame now, else
 * -1: partitionHost without its side effect (a ballooned page stays out).
 */
export function partitionHostMapped(p: usize, gpa: u64): i64 {
  const root = load<u32>(p, P_GSTAGE_ROOT);
  if (!root) return partitionHost(p, gpa);
  const slot = gstageLeafSlot(root, gpa);
  const pte = slot ? atomic.load<u64>(slot) : 0;
  return pte & GPTE_V ? <i64>gpteFrame(pte) + <i64>(gpa & 0xfff) : -1;
}

/**
 * True if the `len` bytes at `gpa` are RAM and contiguous in host memory,
 * so a caller may access them through gpaToHost(gpa) as one run.
 */
export function gpaIsRam(gpa: u64, len: u64): bool {
  const p = partition();
  if (load<u32>(p, P_GSTAGE_ROOT)) {
    if (len == 0) return gpaToHost(gpa) >= 0;
    if (gpa + len < gpa) return false;
    const first = gpaToHost(gpa);
    if (first < 0) return false;
    for (let page = (gpa & ~<u64>0xfff) + 0x1000; page < gpa + len; page += 0x1000) {
      if (gpaToHost(page) != first + <i64>(page - gpa)) return false;
    }
    return true;
  }
  const off = gpa - load<u64>(p, P_RAM_GPA);
  const size = load<u64>(p, P_RAM_SIZE);
  return off < size && len <= size - off;
}

/** Stores to the watched page must reach the slow path (HTIF tohost). */
@inline export function gpaPageWatched(gpaPage: u64): bool {
  return load<u64>(partition(), P_WATCH_GPA) == gpaPage;
}
