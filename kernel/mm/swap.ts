// Hypervisor swap (ESX's): the host evicts private pages of an overcommit
// partition to its swap file and faults them back on access. The kernel
// owns the page states and the races with running vCPUs; the root
// partition (runtime/machine/swap.ts) owns the file and does all the I/O,
// on its own thread, between kernel calls.
//
// Two G-stage leaf states, beside those of mm/share.ts. Neither is V, so
// gstageWalk misses them and every path that finds no frame looks here;
// without V every other bit is software's (privileged spec 1.12, 4.3.1), and
// these use the R and W positions, which the exact values of ballooned and
// unpopulated leaves (mmu/gstage.ts) never have:
//
//   evicting  not V, OUT | FRAME, PPN = the frame: unmapped, pushed to the
//             vCPUs, its bytes still in the frame while the root writes
//             them to the file
//   swapped   not V, OUT, PPN field = the swap slot; no frame
//
// Eviction, in batches on the root thread (swapEvictBegin, then for each
// page swapEvictCommit once its bytes are in the file, or swapEvictAbort):
//
//   clock over the partition's pages from the host's hand, one lap per
//   call at most: a private page (V, W; not pinned, not a SynIC page)
//   whose A bit is set loses it (second chance); one
//   whose A bit is clear is a victim: CAS -> evicting, frame pushed to the
//   partition's vCPUs (mm/shootdown.ts, with their shadow tables);
//   one grace period: no vCPU holds a TLB entry or an address in a frame;
//   the root writes each frame to a slot, then CAS evicting -> swapped and
//   the frame goes back to the pool.
//
// A is set on the leaf by the G-stage walk of every TLB fill (mmu/gstage.ts
// gstageWalk), so a page used since the hand last passed survives a lap.
// Clearing A pushes the frame to the vCPUs (as arm64's
// ptep_clear_flush_young), else a page hot in a TLB or a shadow table
// would never set A again and would go while in use.
//
// Swap-in: a vCPU whose load, store, fetch or page walk finds the page
// evicting or swapped does not execute the instruction: swapFault records
// the page in its block (H_SWAP_GPA), raises CAUSE_RETRY and run() returns
// Exit.HOST, as an MMIO exit does. The root reads the slot into a fresh
// frame, maps it (swapInInstall) and resumes the vCPU, which runs the same
// instruction again. The host's own accesses (device DMA, loaders, saves)
// get SWAP_HOST (-2) from partitionHost* and swap in first, synchronously.
import { hart, H_SWAP_GPA, H_STAT_SWAP_FAULTS } from '../cpu/hart';
import { CAUSE_RETRY, raise } from '../cpu/exception';
import { GPTE_A, GPTE_BALLOONED, GPTE_RWX_LEAF, GPTE_V, GPTE_W, gpteFrame, gpteLeaf, gstageLeafSlot, leafPinned } from '../mmu/gstage';
import { frameFree } from './frames';
import { partitionAddr, P_FIRST_VCPU, P_GSTAGE_ROOT, P_NVCPUS, P_RAM_GPA, P_RAM_SIZE } from './partition';
import { vcpuAddr } from '../layout';
import { SY_SIEFP, SY_SIMP, SYNIC_ENABLE } from '../vmbus/synic-defs';
import { recordAdd, R_BALLOONED, shareActive } from './share';
import { graceWait, REQ_SHADOW, shootdownPartition } from './shootdown';

/** Not V: the page's bytes are in swap slot (PPN field). */
export const GPTE_SWAPPED: u64 = 1 << 1;
/** Not V: the page is leaving; its bytes are still in frame (PPN field). */
export const GPTE_EVICTING: u64 = (1 << 1) | (1 << 2);
const STATE_MASK: u64 = GPTE_V | GPTE_EVICTING;

/** What partitionHost* return to the host for a page that is out (swap it in, then ask again). */
export const SWAP_HOST: i64 = -2;

/** Victims one eviction list (a frame: next hand, count, then page and frame each) holds. */
const SWAP_LIST_MAX: u32 = (4096 - 8) / 8;

/** The largest slot a leaf can name (its PPN field, 44 bits; slots are 4 KiB of the file). */
export const SWAP_MAX_SLOT: u64 = (<u64>1 << 44) - 1;

@inline export function leafSwapped(pte: u64): bool {
  return (pte & STATE_MASK) == GPTE_SWAPPED;
}
@inline export function leafEvicting(pte: u64): bool {
  return (pte & STATE_MASK) == GPTE_EVICTING;
}
/** Evicting or swapped: the page has no frame a vCPU may use; only the root can bring it back. */
@inline export function leafOut(pte: u64): bool {
  return (pte & (GPTE_V | GPTE_SWAPPED)) == GPTE_SWAPPED;
}

/**
 * The running vCPU touched guest page `gpa`, which is out: asks the root to
 * swap it in and abandons the instruction (it runs again once resumed).
 * Returns -2, "after raising", for the translation paths.
 */
export function swapFault(gpa: u64): i64 {
  store<u64>(hart, (gpa & ~<u64>0xfff) | 1, H_SWAP_GPA); // the root takes it once run() has returned
  store<u64>(hart, load<u64>(hart, H_STAT_SWAP_FAULTS) + 1, H_STAT_SWAP_FAULTS);
  raise(CAUSE_RETRY, 0);
  return -2;
}

/**
 * After a translation of `gpa` (G-stage leaf `slot`) found no frame: a vCPU
 * (`self` != 0) faults if the page is out, the host gets SWAP_HOST; -1
 * otherwise (not RAM, or no frame for another reason).
 */
export function swapMissing(slot: usize, gpa: u64, self: usize): i64 {
  if (!slot || !leafOut(atomic.load<u64>(slot))) return -1;
  return self ? swapFault(gpa) : SWAP_HOST;
}

/** A swap-in request of the running vCPU is pending (an SBI call must not return its error: it runs again). */
@inline export function swapFaultPending(): bool {
  return load<u64>(hart, H_SWAP_GPA) != 0;
}

/**
 * Is guest page `gpa` a SynIC message or event-flags page (SIMP, SIEFP) of
 * a vCPU of `p`? The host writes those in place from any thread (the root,
 * VMBus endpoint threads: vmbus/synic.ts), never through a swap-in, so they
 * stay resident as pinned pages do.
 */
function synicPage(p: usize, gpa: u64): bool {
  const first = load<u32>(p, P_FIRST_VCPU);
  const n = load<u32>(p, P_NVCPUS);
  for (let i: u32 = 0; i < n; i++) {
    const v = vcpuAddr(first + i);
    const simp = load<u64>(v + SY_SIMP), siefp = load<u64>(v + SY_SIEFP);
    if ((simp & SYNIC_ENABLE && (simp & ~<u64>0xfff) == gpa) || (siefp & SYNIC_ENABLE && (siefp & ~<u64>0xfff) == gpa)) return true;
  }
  return false;
}

@inline function leafOf(id: u32, page: u32): usize {
  const p = partitionAddr(id);
  return gstageLeafSlot(load<u32>(p, P_GSTAGE_ROOT), load<u64>(p, P_RAM_GPA) + (<u64>page << 12));
}

/**
 * Picks up to `max` victims of partition `id` by clock from page `hand`
 * (the root keeps the hand), makes them evicting and waits one grace
 * period. Writes at `out`: the next hand (u32), the count (u32), then per
 * victim its page index and frame (u32 each; at most (4096 - 8) / 8 fit a
 * frame). Looks at one lap of pages at most, so a page used since the last
 * call (A set) always survives this one: a vCPU that has just had its page
 * swapped back in runs before the page can go again. Returns the count.
 * Root thread, no vCPU of this thread running.
 */
export function swapEvictBegin(id: u32, hand: u32, max: u32, out: usize): u32 {
  if (max > SWAP_LIST_MAX) max = SWAP_LIST_MAX; // the list is one frame
  const p = partitionAddr(id);
  const pages = <u32>(load<u64>(p, P_RAM_SIZE) >> 12);
  let n: u32 = 0;
  if (shareActive(p) && pages) {
    if (hand >= pages) hand = 0;
    for (let looked: u32 = 0; n < max && looked < pages; looked++) {
      const slot = leafOf(id, hand);
      const pte = slot ? atomic.load<u64>(slot) : 0;
      // Private and the partition's: shared, merging, zero, pinned and SynIC pages stay.
      if (pte & GPTE_V && pte & GPTE_W && !leafPinned(pte) && !synicPage(p, load<u64>(p, P_RAM_GPA) + (<u64>hand << 12))) {
        if (pte & GPTE_A) {
          // Second chance. The vCPUs drop what they cached of the page, so
          // its next use misses, walks and sets A again (a TLB hit or a
          // shadow entry would not): the instruction a swap-in exit runs
          // again touches each page it needs anew, and all of them survive
          // the next lap, or a guest whose instruction needs more pages
          // than one lap leaves would never finish it.
          if (atomic.cmpxchg<u64>(slot, pte, pte & ~GPTE_A) == pte) shootdownPartition(p, gpteFrame(pte), REQ_SHADOW, 0);
        } else {
          const f = gpteFrame(pte);
          if (atomic.cmpxchg<u64>(slot, pte, gpteLeaf(f, GPTE_EVICTING)) == pte) {
            store<u32>(out + 8 + (n << 3), hand);
            store<u32>(out + 12 + (n << 3), f);
            n++;
            // TLB entries of the frame, and the shadow tables (they may map it).
            shootdownPartition(p, f, REQ_SHADOW, 0);
          }
        }
      }
      if (++hand == pages) hand = 0;
    }
    if (n) graceWait(p, 0); // no vCPU can still read or write a victim's frame
  }
  store<u32>(out, hand);
  store<u32>(out + 4, n);
  return n;
}

/**
 * Victim `page` of `id` (frame `frame`) is in swap slot `slot`: the page
 * becomes swapped and the frame returns to the pool. False if the page is
 * no longer evicting with that frame (the root swapped it back in first):
 * the frame stays mapped and the slot is the caller's again.
 */
export function swapEvictCommit(id: u32, page: u32, frame: u32, slot: u64): bool {
  const s = leafOf(id, page);
  if (!s || slot > SWAP_MAX_SLOT) return false;
  const evicting = gpteLeaf(frame, GPTE_EVICTING);
  if (atomic.cmpxchg<u64>(s, evicting, (slot << 10) | GPTE_SWAPPED) != evicting) return false;
  frameFree(frame); // no vCPU holds it (swapEvictBegin's grace period); the JIT forgets it there
  return true;
}

/** Victim `page` of `id` stays (its bytes could not be written): mapped private again. */
export function swapEvictAbort(id: u32, page: u32, frame: u32): bool {
  const s = leafOf(id, page);
  const evicting = gpteLeaf(frame, GPTE_EVICTING);
  return s != 0 && atomic.cmpxchg<u64>(s, evicting, gpteLeaf(frame, GPTE_RWX_LEAF)) == evicting;
}

/**
 * Where page `gpa` of `id` is, for the root: its slot when swapped, -2 when
 * evicting (swapEvictAbort brings it back as it is), -1 otherwise.
 */
export function swapSlotOf(id: u32, gpa: u64): i64 {
  const p = partitionAddr(id);
  const s = gstageLeafSlot(load<u32>(p, P_GSTAGE_ROOT), gpa);
  const pte = s ? atomic.load<u64>(s) : 0;
  if (leafSwapped(pte)) return <i64>(pte >> 10);
  if (leafEvicting(pte)) return -2;
  return -1;
}

/**
 * The root has read swapped page `gpa` of `id` (slot `slot`) into `frame`
 * (from frameAlloc): the page is private there again, with A set (it is
 * about to be used: the clock leaves it one lap). False if the page was not
 * in that slot: the frame goes back to the pool.
 */
export function swapInInstall(id: u32, gpa: u64, slot: u64, frame: u32): bool {
  const p = partitionAddr(id);
  const s = gstageLeafSlot(load<u32>(p, P_GSTAGE_ROOT), gpa);
  const swapped = (slot << 10) | GPTE_SWAPPED;
  if (s != 0 && atomic.cmpxchg<u64>(s, swapped, gpteLeaf(frame, GPTE_RWX_LEAF)) == swapped) return true;
  frameFree(frame);
  return false;
}

/**
 * Swapped page `gpa` of `id` leaves RAM without being read (the guest gave
 * it to its balloon): it becomes ballooned. Returns the slot it held, now
 * the root's to reuse, or -1 if it was not swapped.
 */
export function swapDiscard(id: u32, gpa: u64): i64 {
  const p = partitionAddr(id);
  const s = gstageLeafSlot(load<u32>(p, P_GSTAGE_ROOT), gpa);
  for (;;) {
    const pte = s ? atomic.load<u64>(s) : 0;
    if (!leafSwapped(pte)) return -1;
    if (atomic.cmpxchg<u64>(s, pte, GPTE_BALLOONED) == pte) {
      recordAdd(p, R_BALLOONED, 1);
      return <i64>(pte >> 10);
    }
  }
  return -1; // not reached (AssemblyScript wants it)
}
