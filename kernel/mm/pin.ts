// Pinning guest pages the host uses in place: the pages of a VMBus GPADL
// (drivers/vmbus/channel-manager.ts) on a partition whose RAM goes through
// the per-page map (page sharing, ballooning; mm/share.ts).
//
// The host's ring code reads and writes a ring as one host-contiguous run
// (vmbus/ring.ts), and devices touch GPADL pages without going through the
// store choke point on every access. With overcommit the guest-physical ->
// host map is per page and the host chooses the frames, so when the guest
// establishes a GPADL the host moves its pages into one freshly allocated
// run, page by page (sharePinPage), and marks each leaf pinned
// (GPTE_PINNED, leafPinned() in mmu/gstage.ts). A pinned page is private
// and writable, and is never merged by the scanner, ballooned or swapped
// out, so its frame stays where the host holds it until the GPADL is torn
// down (shareUnpinPage). Moving a page:
//
//   private   W -> MERGING (a CAS; a vCPU store in between takes W back
//             through share-cow.ts and the CAS below fails: we copy again),
//             push the old frame to the partition's vCPUs, one grace
//             period, copy, CAS MERGING -> the new frame, W and PINNED;
//   shared    copy (nothing for the zero frame), CAS to the new frame: the
//             copy-on-write break a store would have made;
//   the old frame leaves as a merge's duplicate does: pushed to the
//   vCPUs, freed after the next grace period (or its last reference).
//
// An unpopulated page (demand-allocated RAM never written) is pinned as a
// zero page. Ballooned (and any other not-present) pages are refused: the
// guest gave them away, and a GPADL naming them is the guest's mistake.
import { SHARE_STATE, PAGE_SIZE } from '../layout';
import { GPTE_MERGING, GPTE_UNPOPULATED, GPTE_PINNED, GPTE_RWX_LEAF, GPTE_SHARED, GPTE_V, GPTE_W, GPTE_D, gpteFrame, gpteLeaf, gstageLeafSlot, leafPinned } from '../mmu/gstage';
import { P_GSTAGE_ROOT, P_RAM_GPA, P_RAM_SIZE } from './partition';
import {
  dropLock, META_MERGING, metaOf, pendFree, recordAdd, R_PINNED, R_SHARED, R_UNPOPULATED, R_ZERO, S_SHARING, S_ZERO_PAGES, shareZeroFrame, takeLock, unref,
} from './share';
import { graceWait, REQ_SHADOW, runningVcpu, shootdownPartition } from './shootdown';

/** sharePinPage's answers. */
export const PIN_OK: u32 = 0;
/** Not a RAM page of the partition (no leaf). */
export const PIN_NOT_RAM: u32 = 1;
/** No frame: ballooned (or otherwise not present). */
export const PIN_NOT_PRESENT: u32 = 2;
/** Pinned already (another GPADL holds it, or this one names it twice). */
export const PIN_PINNED: u32 = 3;

/**
 * Moves guest page `gpa` of sharing partition `p` into host frame `to` (a
 * frame the caller allocated, no one else's) and pins it there. On PIN_OK
 * the page's frame is `to`; otherwise nothing changed and `to` is still
 * the caller's. Host threads only (the root's VMBus code).
 */
export function sharePinPage(p: usize, gpa: u64, to: u32): u32 {
  if (gpa - load<u64>(p, P_RAM_GPA) >= load<u64>(p, P_RAM_SIZE)) return PIN_NOT_RAM;
  const slot = gstageLeafSlot(load<u32>(p, P_GSTAGE_ROOT), gpa);
  if (!slot) return PIN_NOT_RAM;
  const self = runningVcpu; // a deterministic host's exit is serviced inside run(): wait as that vCPU
  takeLock(self); // the scanner does not look at the partition meanwhile
  const result = pinLocked(p, slot, to, self);
  dropLock();
  return result;
}

function pinLocked(p: usize, slot: usize, to: u32, self: usize): u32 {
  for (;;) {
    const pte = atomic.load<u64>(slot);
    const pinned = gpteLeaf(to, GPTE_RWX_LEAF | GPTE_PINNED);
    if (pte == GPTE_UNPOPULATED) {
      // Demand-allocated RAM never written: a zero page that had no frame yet.
      memory.fill(to, 0, PAGE_SIZE);
      if (atomic.cmpxchg<u64>(slot, pte, pinned) != pte) continue;
      recordAdd(p, R_UNPOPULATED, -1);
      recordAdd(p, R_PINNED, 1);
      return PIN_OK;
    }
    if (!(pte & GPTE_V)) return PIN_NOT_PRESENT;
    if (leafPinned(pte)) return PIN_PINNED;
    const old = gpteFrame(pte);
    if (pte & GPTE_SHARED) {
      // Read-only: its bytes cannot change under the copy.
      const zero = old == shareZeroFrame();
      if (zero) memory.fill(to, 0, PAGE_SIZE);
      else memory.copy(to, old, PAGE_SIZE);
      if (atomic.cmpxchg<u64>(slot, pte, pinned) != pte) continue;
      if (zero) {
        recordAdd(p, R_ZERO, -1);
        atomic.sub<u32>(SHARE_STATE + S_ZERO_PAGES, 1);
      } else {
        recordAdd(p, R_SHARED, -1);
        atomic.sub<u32>(SHARE_STATE + S_SHARING, 1);
      }
      shootdownPartition(p, old, 0, 0);
      if (!zero) unref(old);
    } else if (pte & (GPTE_W | GPTE_MERGING)) {
      // Private (W), or write-protected by us on an earlier turn (MERGING).
      if (pte & GPTE_W) {
        atomic.or<u32>(metaOf(old), META_MERGING);
        if (atomic.cmpxchg<u64>(slot, pte, (pte & ~(GPTE_W | GPTE_D)) | GPTE_MERGING) != pte) {
          atomic.and<u32>(metaOf(old), ~META_MERGING);
          continue;
        }
        // Store entries (and writable shadow entries) of the frame go before the copy.
        shootdownPartition(p, old, REQ_SHADOW, 0);
      }
      graceWait(p, self); // no vCPU is still inside a store to it
      const wp = atomic.load<u64>(slot);
      if (!(wp & GPTE_MERGING) || gpteFrame(wp) != old) continue; // a store took W back: again
      memory.copy(to, old, PAGE_SIZE);
      if (atomic.cmpxchg<u64>(slot, wp, pinned) != wp) continue;
      store<u32>(metaOf(old), 0);
      shootdownPartition(p, old, 0, 0);
      pendFree(old);
    } else {
      return PIN_NOT_PRESENT; // no state a page of RAM has
    }
    recordAdd(p, R_PINNED, 1);
    return PIN_OK;
  }
  return PIN_NOT_PRESENT; // not reached (AssemblyScript wants it)
}

/** The host no longer holds guest page `gpa` of `p` (GPADL teardown): it may be shared, ballooned or swapped again. False if it was not pinned. */
export function shareUnpinPage(p: usize, gpa: u64): bool {
  const slot = gstageLeafSlot(load<u32>(p, P_GSTAGE_ROOT), gpa);
  if (!slot) return false;
  for (;;) {
    const pte = atomic.load<u64>(slot);
    if (!leafPinned(pte)) return false;
    if (atomic.cmpxchg<u64>(slot, pte, pte & ~GPTE_PINNED) == pte) break;
  }
  recordAdd(p, R_PINNED, -1);
  return true;
}
