// Page sharing's part of the store choke point (mm/gpa.ts
// gpaToHostForStore): a write to a page without W gets a private frame
// first. A shared page is copied (copy-on-write break), a page the scanner
// is comparing gets W back (the merge then fails), a ballooned or
// unpopulated page gets a fresh zeroed frame. Reads of either map it to the
// zero frame; ballooning a page takes its frame away (mm/share.ts describes
// the states). When the pool has no frame the write gets NO_FRAME.
import { GPTE_BALLOONED, GPTE_UNPOPULATED, GPTE_D, GPTE_MERGING, GPTE_RWX_LEAF, GPTE_RX_LEAF, GPTE_SHARED, GPTE_V, GPTE_W, gpteFrame, gpteLeaf, gstageLeafSlot, leafPinned } from '../mmu/gstage';
import { PAGE_SIZE, SHARE_STATE } from '../layout';
import { frameAlloc, frameFree } from './frames';
import { NO_FRAME } from './gpa';
import { P_GSTAGE_ROOT } from './partition';
import {
  bump64, META_MERGING, metaOf, pendFree, recordAdd, R_BALLOONED, R_UNPOPULATED, R_COW_BREAKS, R_SHARED, R_ZERO, S_COW_BREAKS, S_SHARING,
  S_ZERO_PAGES, shareZeroFrame, unref,
} from './share';
import { REQ_SHADOW, shootdownPartition, tlbDropFrame } from './shootdown';
/**
 * Host address for a write to `gpa` of sharing partition `p` (root: its
 * G-stage root): a private frame, after breaking sharing, cancelling a
 * merge in progress, or giving a ballooned or unpopulated page a fresh
 * frame. `self` is the writing vCPU (its own TLB entries of the old frame go
 * at once), 0 for the host. -1: not RAM; NO_FRAME: the pool had no frame
 * for the copy or the fresh page.
 */
export function shareStoreHost(p: usize, root: u32, gpa: u64, self: usize): i64 {
  const slot = gstageLeafSlot(root, gpa);
  if (!slot) return -1;
  const off = <i64>(gpa & 0xfff);
  for (;;) {
    const pte = atomic.load<u64>(slot);
    if (pte & GPTE_V) {
      if (pte & GPTE_W) return <i64>gpteFrame(pte) + off;
      const old = gpteFrame(pte);
      if (pte & GPTE_MERGING) {
        // The scanner compares this page: the write wins, the merge fails
        // (its CAS on this PTE will not match).
        if (atomic.cmpxchg<u64>(slot, pte, (pte & ~GPTE_MERGING) | GPTE_W | GPTE_D) == pte) {
          atomic.and<u32>(metaOf(old), ~META_MERGING);
        }
        continue;
      }
      if (!(pte & GPTE_SHARED)) return -1;
      const zero = old == shareZeroFrame();
      const fresh = frameAlloc(); // zeroed
      if (!fresh) return NO_FRAME;
      if (!zero) memory.copy(fresh, old, PAGE_SIZE);
      if (atomic.cmpxchg<u64>(slot, pte, gpteLeaf(fresh, GPTE_RWX_LEAF)) != pte) {
        frameFree(fresh); // another writer broke it first
        continue;
      }
      bump64(S_COW_BREAKS);
      recordAdd(p, R_COW_BREAKS, 1);
      if (zero) {
        recordAdd(p, R_ZERO, -1);
        atomic.sub<u32>(SHARE_STATE + S_ZERO_PAGES, 1);
      } else {
        recordAdd(p, R_SHARED, -1);
        atomic.sub<u32>(SHARE_STATE + S_SHARING, 1);
      }
      // The partition's vCPUs may hold load and fetch entries of the old
      // frame for this page: they must read the copy from now on.
      if (self) tlbDropFrame(old);
      shootdownPartition(p, old, 0, self);
      if (!zero) unref(old);
      return <i64>fresh + off;
    }
    if (pte == GPTE_BALLOONED || pte == GPTE_UNPOPULATED) {
      const fresh = frameAlloc();
      if (!fresh) return NO_FRAME;
      if (atomic.cmpxchg<u64>(slot, pte, gpteLeaf(fresh, GPTE_RWX_LEAF)) != pte) {
        frameFree(fresh);
        continue;
      }
      recordAdd(p, pte == GPTE_BALLOONED ? R_BALLOONED : R_UNPOPULATED, -1);
      return <i64>fresh + off;
    }
    return -1;
  }
}

/**
 * A read of ballooned or unpopulated page `gpa` (slot `slot`): maps it to
 * the zero frame and returns its host address, or -1 if the page is neither.
 */
export function shareRefaultZero(p: usize, slot: usize, gpa: u64): i64 {
  const zero = shareZeroFrame();
  if (!slot || !zero) return -1;
  for (;;) {
    const pte = atomic.load<u64>(slot);
    if (pte & GPTE_V) return <i64>gpteFrame(pte) + <i64>(gpa & 0xfff);
    if (pte != GPTE_BALLOONED && pte != GPTE_UNPOPULATED) return -1;
    if (atomic.cmpxchg<u64>(slot, pte, gpteLeaf(zero, GPTE_RX_LEAF | GPTE_SHARED)) == pte) {
      recordAdd(p, pte == GPTE_BALLOONED ? R_BALLOONED : R_UNPOPULATED, -1);
      recordAdd(p, R_ZERO, 1);
      atomic.add<u32>(SHARE_STATE + S_ZERO_PAGES, 1);
      return <i64>zero + <i64>(gpa & 0xfff);
    }
  }
  return -1; // not reached (AssemblyScript wants it)
}

/**
 * A host read of page `gpa` whose leaf is `pte`: the zero frame's address
 * when the page has no frame (ballooned, unpopulated), else -1. Nothing is
 * mapped: the host caches no translation, so the page keeps its state (a
 * vCPU's read maps the zero frame instead, shareRefaultZero, to cache it).
 */
export function shareZeroRead(pte: u64, gpa: u64): i64 {
  return pte == GPTE_BALLOONED || pte == GPTE_UNPOPULATED ? <i64>shareZeroFrame() + <i64>(gpa & 0xfff) : -1;
}

/**
 * Takes guest page `gpa` of `p` out of its RAM (a balloon inflation): its
 * frame goes back to the pool after a grace period. Returns false if it is
 * not RAM, already ballooned, or pinned for the host.
 */
export function shareBalloonPage(p: usize, gpa: u64): bool {
  const slot = gstageLeafSlot(load<u32>(p, P_GSTAGE_ROOT), gpa);
  if (!slot) return false;
  for (;;) {
    const pte = atomic.load<u64>(slot);
    if (pte == GPTE_UNPOPULATED) {
      // Never had a frame: it only changes name (the guest gave it back).
      if (atomic.cmpxchg<u64>(slot, pte, GPTE_BALLOONED) != pte) continue;
      recordAdd(p, R_UNPOPULATED, -1);
      recordAdd(p, R_BALLOONED, 1);
      return true;
    }
    if (!(pte & GPTE_V) || leafPinned(pte)) return false; // a pinned page is the host's until its GPADL goes (mm/pin.ts)
    if (atomic.cmpxchg<u64>(slot, pte, GPTE_BALLOONED) != pte) continue;
    const f = gpteFrame(pte);
    recordAdd(p, R_BALLOONED, 1);
    if (pte & GPTE_W || pte & GPTE_MERGING) {
      atomic.and<u32>(metaOf(f), ~META_MERGING);
      shootdownPartition(p, f, REQ_SHADOW, 0);
      pendFree(f);
    } else if (f == shareZeroFrame()) {
      recordAdd(p, R_ZERO, -1);
      atomic.sub<u32>(SHARE_STATE + S_ZERO_PAGES, 1);
      shootdownPartition(p, f, 0, 0);
    } else {
      recordAdd(p, R_SHARED, -1);
      atomic.sub<u32>(SHARE_STATE + S_SHARING, 1);
      shootdownPartition(p, f, 0, 0);
      unref(f);
    }
    return true;
  }
}
