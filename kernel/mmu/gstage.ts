// Nested paging: the second stage as real Sv39x4 G-stage tables in host
// memory (privileged spec 1.12, 8.5: hgatp, "Guest physical address
// translation").
//
// Sv39x4 guest-physical address (41 bits):
//   | VPN[2] 11 bits | VPN[1] 9 | VPN[0] 9 | offset 12 |
// The root table is 16 KiB (2048 entries) and 16 KiB aligned; the lower
// levels are ordinary 4 KiB tables. PTEs have the Sv39 format; every leaf
// has U set (guest accesses are treated as U-mode accesses by the G-stage)
// and its PPN is a *host* frame (an offset in the shared wasm memory).
//
// A walk here runs on a TLB miss only: the software TLB caches the final
// guest-virtual -> host translation, so the 2-D walk (each first-stage PTE
// fetched through a G-stage walk) is paid once per page.
import { hart, H_STAT_GWALKS, H_STAT_GWALK_REFS } from '../cpu/hart';
import { frameAlloc, frameFree, framesAllocContiguous, framesFreeRun } from '../mm/frames';

export const GPTE_V: u64 = 1 << 0;
export const GPTE_R: u64 = 1 << 1;
export const GPTE_W: u64 = 1 << 2;
export const GPTE_X: u64 = 1 << 3;
export const GPTE_U: u64 = 1 << 4;
export const GPTE_A: u64 = 1 << 6;
export const GPTE_D: u64 = 1 << 7;
export const GPTE_RWX_LEAF: u64 = GPTE_V | GPTE_R | GPTE_W | GPTE_X | GPTE_U | GPTE_A | GPTE_D;
// The two RSW bits (software's, ignored by the walk) say why a RAM leaf has
// no W (mm/share.ts): the frame is shared copy-on-write, or the scanner has
// write-protected it to compare it. A leaf that is not valid but holds
// GPTE_BALLOONED is a page the guest gave to its balloon (mm/share-cow.ts);
// one that holds GPTE_UNPOPULATED is a page of demand-allocated RAM that
// has had no frame yet (an overcommit partition starts with every page so).
// Both read as the zero frame and get a fresh frame on their first write;
// they are kept apart for the memory map (what the guest gave back, what it
// never touched).
export const GPTE_SHARED: u64 = 1 << 8;
export const GPTE_MERGING: u64 = 1 << 9;
export const GPTE_BALLOONED: u64 = 1 << 8;
export const GPTE_UNPOPULATED: u64 = 1 << 9;
// A valid private leaf with GPTE_PINNED holds a frame the host uses in
// place (a VMBus GPADL's page, mm/pin.ts): the sharing scanner, the balloon
// and hypervisor swap must leave it where it is. It is the G bit, which
// G-stage translation does not use (privileged spec 1.12, 8.5.1), and our
// walk ignores. Ask leafPinned(), never the bit.
export const GPTE_PINNED: u64 = 1 << 5;
/** Is this leaf pinned (mm/pin.ts)? Every path that takes or moves a page's frame (merge, balloon, swap-out) must skip it. */
@inline export function leafPinned(pte: u64): bool {
  return (pte & (GPTE_V | GPTE_PINNED)) == (GPTE_V | GPTE_PINNED);
}
/** A read-only leaf of RAM: what a shared frame is mapped with. */
export const GPTE_RX_LEAF: u64 = GPTE_V | GPTE_R | GPTE_X | GPTE_U | GPTE_A;

/** The leaf PTE value mapping host frame `host` with `perms`. */
@inline export function gpteLeaf(host: u32, perms: u64): u64 {
  return (<u64>(host >> 12) << 10) | perms;
}

/** The host frame a leaf PTE maps. */
@inline export function gpteFrame(pte: u64): u32 {
  return <u32>((pte >> 10) << 12);
}

/** Guest-physical addresses at or above 2^41 are outside Sv39x4. */
export const GSTAGE_LIMIT: u64 = <u64>1 << 41;
const ROOT_ENTRIES: u32 = 2048;

@inline function index(gpa: u64, level: u32): u32 {
  return level == 2 ? <u32>(gpa >> 30) & (ROOT_ENTRIES - 1) : <u32>(gpa >> (12 + 9 * <u64>level)) & 0x1ff;
}

/** A new, empty root table (16 KiB aligned), or 0 when out of frames. */
export function gstageCreateRoot(): u32 {
  return framesAllocContiguous(4, 16 * 1024);
}

/**
 * Maps the 4 KiB guest-physical page `gpa` to host frame `host` with leaf
 * permission bits `perms`, allocating intermediate tables. Returns false when
 * out of frames or when `gpa` is outside Sv39x4.
 */
export function gstageMap(root: u32, gpa: u64, host: u32, perms: u64): bool {
  if (gpa >= GSTAGE_LIMIT) return false;
  let table = root;
  for (let level: u32 = 2; level > 0; level--) {
    const slot = <usize>table + (<usize>index(gpa, level) << 3);
    let pte = atomic.load<u64>(slot);
    if (!(pte & GPTE_V)) {
      const next = frameAlloc();
      if (!next) return false;
      pte = (<u64>(next >> 12) << 10) | GPTE_V;
      atomic.store<u64>(slot, pte);
    }
    table = <u32>((pte >> 10) << 12);
  }
  atomic.store<u64>(<usize>table + (<usize>index(gpa, 0) << 3), (<u64>(host >> 12) << 10) | perms);
  return true;
}

/**
 * Frees a whole G-stage tree: its intermediate tables and the 16 KiB root.
 * Not the frames its leaves map (the partition's RAM run, or what page
 * sharing gave back already: mm/share.ts shareRelease). For a partition
 * that is gone: no vCPU may walk it again.
 */
export function gstageDestroy(root: u32): void {
  for (let i: u32 = 0; i < ROOT_ENTRIES; i++) {
    const pte = load<u64>(<usize>root + (<usize>i << 3));
    if (!(pte & GPTE_V) || pte & (GPTE_R | GPTE_X)) continue;
    const mid = <u32>((pte >> 10) << 12);
    for (let j: u32 = 0; j < 512; j++) {
      const e = load<u64>(<usize>mid + (<usize>j << 3));
      if (e & GPTE_V && !(e & (GPTE_R | GPTE_X))) frameFree(<u32>((e >> 10) << 12));
    }
    frameFree(mid);
  }
  framesFreeRun(root, 4);
}

/** Removes the mapping of guest page `gpa` (tables stay); the caller flushes TLBs. */
export function gstageUnmap(root: u32, gpa: u64): void {
  if (gpa >= GSTAGE_LIMIT) return;
  let table = root;
  for (let level: u32 = 2; level > 0; level--) {
    const pte = atomic.load<u64>(<usize>table + (<usize>index(gpa, level) << 3));
    if (!(pte & GPTE_V)) return;
    table = <u32>((pte >> 10) << 12);
  }
  atomic.store<u64>(<usize>table + (<usize>index(gpa, 0) << 3), 0);
}

/**
 * Host address of the 4 KiB leaf PTE of guest page `gpa`, or 0 when its
 * tables are missing (nothing counted: host-side and scanner use).
 */
export function gstageLeafSlot(root: u32, gpa: u64): usize {
  if (gpa >= GSTAGE_LIMIT) return 0;
  let table = root;
  for (let level: u32 = 2; level > 0; level--) {
    const pte = atomic.load<u64>(<usize>table + (<usize>index(gpa, level) << 3));
    if (!(pte & GPTE_V) || pte & (GPTE_R | GPTE_X)) return 0; // no table (a superpage is not ours)
    table = <u32>((pte >> 10) << 12);
  }
  return <usize>table + (<usize>index(gpa, 0) << 3);
}

/**
 * Host address of guest-physical `gpa`, or -1 when unmapped (MMIO, or
 * nothing). Counts the walk and its memory references on the running vCPU.
 */
export function gstageWalk(root: u32, gpa: u64): i64 {
  store<u64>(hart, load<u64>(hart, H_STAT_GWALKS) + 1, H_STAT_GWALKS);
  if (gpa >= GSTAGE_LIMIT) return -1;
  let table = root;
  let refs: u64 = 0;
  let result: i64 = -1;
  for (let level: i32 = 2; level >= 0; level--) {
    const slot = <usize>table + (<usize>index(gpa, <u32>level) << 3);
    const pte = atomic.load<u64>(slot);
    refs++;
    if (!(pte & GPTE_V)) break;
    if (pte & (GPTE_R | GPTE_X)) {
      // A TLB fill is a use: hypervisor swap's clock reads A and clears it
      // (mm/swap.ts). Set as the Svadu extension would; only after a clear.
      if (!(pte & GPTE_A)) atomic.or<u64>(slot, GPTE_A);
      // A leaf; superpages (level > 0) map a naturally aligned run of frames.
      const mask: u64 = (<u64>1 << (12 + 9 * <u64>level)) - 1;
      result = <i64>((((pte >> 10) << 12) & ~mask) | (gpa & mask));
      break;
    }
    if (level == 0) break; // a pointer at the last level is malformed
    table = <u32>((pte >> 10) << 12);
  }
  store<u64>(hart, load<u64>(hart, H_STAT_GWALK_REFS) + refs, H_STAT_GWALK_REFS);
  return result;
}
