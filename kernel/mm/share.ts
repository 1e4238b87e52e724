// Transparent page sharing (ESX's, KSM's): a scanner hashes guest frames
// (mm/share-scan.ts),
// confirms candidates by a full compare, and maps identical pages onto one
// host frame copy-on-write; the duplicates go back to the frame pool. The
// first write to a shared page breaks the sharing (gpaToHostForStore, the
// one store choke point, mm/gpa.ts, and mm/share-cow.ts): the writer gets a
// private copy. This file holds the state they share: the per-frame
// metadata, the partition records, the counters, and frames waiting for a
// grace period before they are free.
//
// Only partitions with a per-page guest-physical -> host map can share: the
// Sv39x4 G-stage tables (nested paging uses them as its second stage, shadow
// paging as its P2M when sharing is on). Direct partitions are one
// contiguous run behind a range check, with nothing per page to remap
// (docs/memory.md); shareEnable refuses them.
//
// The state of a RAM page is its leaf PTE (mmu/gstage.ts):
//
//   private     V R W X U A D, a frame of its own
//   merging     V R X U A + MERGING: write-protected while the scanner compares
//   shared      V R X U A + SHARED: a frame with refs > 0 (or the zero frame)
//   ballooned   not V, BALLOONED (mm/share-cow.ts): no frame; reads as zero
//   unpopulated not V, UNPOPULATED: demand-allocated RAM never given a frame;
//               reads as zero, its first write takes a frame from the pool
//   evicting,   not V (mm/swap.ts): hypervisor swap's; a vCPU that touches
//   swapped     one exits to the root, which reads it back from the file
//
// Salting (ESX since 2014): each partition is in a group, its own by default
// (0x8000_0000 | id) or an explicit salt 1..0x7fff_ffff several partitions
// name; only frames of one group are ever merged, because a guest that can
// time a write (a COW break is much slower than a store) learns whether
// another guest holds the same page (docs/memory.md). The zero frame is the
// exception: every partition may map it, as a zero page says nothing about
// anyone else.
//
//   SHARE_STATE +0x00 lock u32        one scanner (or reclaim) at a time
//               +0x04 zero u32        the zero frame (pinned)
//               +0x08 meta u32        per pool frame: refs u32 (bit 31 merging) | group u32
//               +0x0c nframes u32     pool frames meta covers, from FRAME_POOL
//               +0x10 table u32       hash table: key u32 | frame u32 | partition u32 | page u32
//               +0x14 tmask u32       table entries - 1 (a power of two)
//               +0x18 parts u32       per-partition records (P_* below), MAX_PARTITIONS x 32 B
//               +0x1c cursor: partition u32, +0x20 page u32
//               +0x24 pend u32        frames waiting for a grace period before frameFree
//               +0x28 npend u32       +0x2c pend lock u32
//               +0x30 batch u32       candidates of the running slice (one frame)
//               +0x38 unshared_run u32, +0x3c unshared u32 (the last full scan's)
//               +0x40 u64 counters: full scans, scanned, merges, zero merges, COW breaks
//               +0x68 shared frames u32 (pages_shared), +0x6c sharing u32 (pages_sharing)
//               +0x70 zero pages u32
import { hart, setHart } from '../cpu/hart';
import { FRAME_POOL, MAX_PARTITIONS, PAGE_SIZE, SHARE_STATE } from '../layout';
import { GPTE_MERGING, GPTE_V, GPTE_W, gpteFrame, gstageLeafSlot } from '../mmu/gstage';
import { frameAlloc, frameFree, framesAllocContiguous, framesEnd } from './frames';
import { partitionAddr, P_GSTAGE_ROOT, P_ID, P_RAM_GPA, P_RAM_SIZE } from './partition';
import { graceWait, runningVcpu, shootdownServe } from './shootdown';
import { jitFrameWritten } from '../jit/code';

export const S_LOCK: u32 = 0x00;
export const S_ZERO: u32 = 0x04;
export const S_META: u32 = 0x08;
export const S_NFRAMES: u32 = 0x0c;
export const S_TABLE: u32 = 0x10;
export const S_TMASK: u32 = 0x14;
export const S_PARTS: u32 = 0x18;
export const S_CUR_PART: u32 = 0x1c;
export const S_CUR_PAGE: u32 = 0x20;
export const S_PEND: u32 = 0x24;
export const S_NPEND: u32 = 0x28;
export const S_PEND_LOCK: u32 = 0x2c;
export const S_BATCH: u32 = 0x30;
export const S_UNSHARED_RUN: u32 = 0x38;
export const S_UNSHARED: u32 = 0x3c;
export const S_FULL_SCANS: u32 = 0x40;
export const S_SCANNED: u32 = 0x48;
export const S_MERGES: u32 = 0x50;
export const S_ZERO_MERGES: u32 = 0x58;
export const S_COW_BREAKS: u32 = 0x60;
export const S_SHARED_FRAMES: u32 = 0x68;
export const S_SHARING: u32 = 0x6c;
export const S_ZERO_PAGES: u32 = 0x70;

/** Counters for shareCounter (the host's names in runtime/host/memory-stats.ts). */
export const SC_PAGES_SHARED: u32 = 0;
export const SC_PAGES_SHARING: u32 = 1;
export const SC_ZERO_PAGES: u32 = 2;
export const SC_UNSHARED: u32 = 3;
export const SC_FULL_SCANS: u32 = 4;
export const SC_SCANNED: u32 = 5;
export const SC_MERGES: u32 = 6;
export const SC_COW_BREAKS: u32 = 7;
export const SC_PENDING_FREE: u32 = 8;

// Per-partition record.
export const R_ENABLED: u32 = 0x00;
export const R_GROUP: u32 = 0x04;
export const R_SHARED: u32 = 0x08; // pages mapped to a shared frame (not the zero frame)
export const R_ZERO: u32 = 0x0c; // pages mapped to the zero frame
export const R_BALLOONED: u32 = 0x10; // pages in the balloon (no frame)
export const R_COW_BREAKS: u32 = 0x14;
export const R_PINNED: u32 = 0x18; // pages pinned for the host (mm/pin.ts)
export const R_UNPOPULATED: u32 = 0x1c; // pages of demand-allocated RAM without a frame yet
export const R_SIZE: u32 = 32;

export const META_MERGING: u32 = 1 << 31;
/** refs of the zero frame: never reaches 0. */
export const REFS_PINNED: u32 = 1 << 30;
const PEND_CAP: u32 = 8192;


@inline export function state<T>(off: u32): T {
  return load<T>(SHARE_STATE + off);
}
@inline export function bump64(off: u32): void {
  atomic.add<u64>(SHARE_STATE + off, 1);
}

/** The zero frame, or 0 before shareInit. */
@inline export function shareZeroFrame(): u32 {
  return state<u32>(S_ZERO);
}

@inline export function record(id: u32): usize {
  return <usize>state<u32>(S_PARTS) + id * R_SIZE;
}

/** Partition `p` (address) shares or balloons: its RAM goes through the per-page map. */
@inline export function shareActive(p: usize): bool {
  const parts = state<u32>(S_PARTS);
  return parts != 0 && atomic.load<u32>(<usize>parts + load<u32>(p, P_ID) * R_SIZE, R_ENABLED) != 0;
}

export function recordAdd(p: usize, field: u32, delta: i32): void {
  atomic.add<u32>(record(load<u32>(p, P_ID)) + field, <u32>delta);
}

export function recordGet(id: u32, field: u32): u32 {
  return state<u32>(S_PARTS) ? atomic.load<u32>(record(id) + field) : 0;
}

// ---- per-frame metadata ----------------------------------------------------------

@inline export function metaOf(frame: u32): usize {
  const i = (frame - FRAME_POOL) >> 12;
  return i < state<u32>(S_NFRAMES) ? <usize>state<u32>(S_META) + (<usize>i << 3) : 0;
}

/** Is host frame `frame` shared, the zero frame, or being compared for a merge? (No store may be cached into it.) */
export function shareFrameReadOnly(frame: u32): bool {
  if (!state<u32>(S_META)) return false;
  const m = metaOf(frame & ~0xfff);
  return m != 0 && atomic.load<u32>(m) != 0;
}

/** One mapping fewer of shared frame `s`; the last one queues it to be freed. */
export function unref(s: u32): void {
  const m = metaOf(s);
  if (atomic.sub<u32>(m, 1) == 1) {
    atomic.sub<u32>(SHARE_STATE + S_SHARED_FRAMES, 1);
    pendFree(s);
  }
}

// ---- set-up ------------------------------------------------------------------------

/**
 * The metadata, sized for the whole frame pool, and the zero frame: 16 bytes
 * per pool frame (8 of metadata, 8 of hash table at half a slot per frame),
 * at most 0.4% of RAM. Once per host; false when the pool cannot hold it.
 */
function shareInit(): bool {
  if (state<u32>(S_META)) return true;
  const nframes = (framesEnd() - FRAME_POOL) >> 12;
  // Half a slot per frame, rounded down to a power of two: ESX's budget of
  // 16 bytes per frame in all (a fuller table only forgets more candidates).
  let entries: u32 = 1024;
  while (entries << 1 <= nframes >> 1) entries <<= 1;
  const metaFrames = ((nframes << 3) + PAGE_SIZE - 1) >> 12;
  const meta = framesAllocContiguous(metaFrames, PAGE_SIZE);
  const table = framesAllocContiguous((entries << 4) >> 12, PAGE_SIZE);
  const parts = framesAllocContiguous((MAX_PARTITIONS * R_SIZE) >> 12, PAGE_SIZE);
  const pend = framesAllocContiguous((PEND_CAP << 2) >> 12, PAGE_SIZE);
  const batch = frameAlloc();
  const zero = frameAlloc();
  if (!meta || !table || !parts || !pend || !batch || !zero) return false;
  memory.fill(SHARE_STATE, 0, 256);
  store<u32>(SHARE_STATE + S_NFRAMES, nframes);
  store<u32>(SHARE_STATE + S_TABLE, table);
  store<u32>(SHARE_STATE + S_TMASK, entries - 1);
  store<u32>(SHARE_STATE + S_PARTS, parts);
  store<u32>(SHARE_STATE + S_PEND, pend);
  store<u32>(SHARE_STATE + S_BATCH, batch);
  store<u32>(SHARE_STATE + S_ZERO, zero);
  store<u32>(SHARE_STATE + S_META, meta);
  store<u32>(metaOf(zero), REFS_PINNED);
  return true;
}

/**
 * Lets partition `id` share frames (and balloon): `salt` 0 keeps it in a
 * group of its own, 1..0x7fff_ffff puts it with every partition naming the
 * same salt. Its RAM must be mapped by G-stage tables (P_GSTAGE_ROOT).
 * Returns false without them, when the salt is out of range, or when the
 * pool cannot hold the metadata.
 */
export function shareEnable(id: u32, salt: u32): bool {
  const p = partitionAddr(id);
  if (!load<u32>(p, P_GSTAGE_ROOT) || salt >= 0x8000_0000 || !shareInit()) return false;
  const r = record(id);
  memory.fill(r, 0, R_SIZE);
  store<u32>(r + R_GROUP, salt ? salt : 0x8000_0000 | id);
  atomic.store<u32>(r + R_ENABLED, 1);
  return true;
}

// ---- frames waiting for a grace period ----------------------------------------------

/** This thread holds the scanner lock (S_LOCK): a full pend list is reclaimed in place. */
export let lockHeld = false;
export function setLockHeld(on: bool): void {
  lockHeld = on;
}

@inline function pendLock(self: usize): void {
  while (atomic.cmpxchg<u32>(SHARE_STATE + S_PEND_LOCK, 0, 1) != 0) serveSelf(self);
}

/** A vCPU spinning for a lock the scanner holds keeps serving its own requests: the scanner may be waiting for them. */
@inline export function serveSelf(self: usize): void {
  if (self) {
    setHart(self);
    shootdownServe();
  }
}

/**
 * Frees `frame` once no vCPU can still hold an address in it. The caller has
 * unmapped it and pushed it to the vCPUs that mapped it (shootdown.ts).
 */
export function pendFree(frame: u32): void {
  const self = runningVcpu; // 0 on a host thread: `hart` may name a vCPU another thread runs
  for (;;) {
    pendLock(0);
    const n = state<u32>(S_NPEND);
    if (n < PEND_CAP) {
      store<u32>(<usize>state<u32>(S_PEND) + (n << 2), frame);
      store<u32>(SHARE_STATE + S_NPEND, n + 1);
      atomic.store<u32>(SHARE_STATE + S_PEND_LOCK, 0);
      return;
    }
    atomic.store<u32>(SHARE_STATE + S_PEND_LOCK, 0);
    if (lockHeld) reclaimLocked(self); // full: reclaim what is there first
    else shareReclaim(self);
  }
}

/** Every vCPU of every sharing partition has served its requests (shootdown.ts graceWait). */
function graceAll(self: usize): void {
  const parts = <usize>state<u32>(S_PARTS);
  for (let id: u32 = 0; id < MAX_PARTITIONS; id++) {
    if (atomic.load<u32>(parts + id * R_SIZE, R_ENABLED)) graceWait(partitionAddr(id), self);
  }
}

export function takeLock(self: usize): void {
  while (atomic.cmpxchg<u32>(SHARE_STATE + S_LOCK, 0, 1) != 0) serveSelf(self);
  lockHeld = true;
}
export function dropLock(): void {
  lockHeld = false;
  atomic.store<u32>(SHARE_STATE + S_LOCK, 0);
}

/**
 * Frees the frames waiting for a grace period (after one). `self` is the
 * calling vCPU or 0. Returns how many were freed.
 */
export function shareReclaim(self: usize): u32 {
  if (!state<u32>(S_META)) return 0;
  takeLock(self);
  const n = reclaimLocked(self);
  dropLock();
  return n;
}

/** shareReclaim from the host (after a balloon inflation). */
export function shareReclaimHost(): u32 {
  return shareReclaim(0);
}

export function reclaimLocked(self: usize): u32 {
  const n = atomic.load<u32>(SHARE_STATE + S_NPEND);
  if (!n) return 0;
  graceAll(self); // frames queued before this point are now unused
  pendLock(self);
  const pend = <usize>state<u32>(S_PEND);
  for (let i: u32 = 0; i < n; i++) {
    const f = load<u32>(pend + (i << 2));
    store<u32>(metaOf(f), 0);
    jitFrameWritten(f); // its next tenant's contents are not the code translated from it
    frameFree(f);
  }
  const left = state<u32>(S_NPEND) - n;
  memory.copy(pend, pend + (n << 2), left << 2);
  store<u32>(SHARE_STATE + S_NPEND, left);
  atomic.store<u32>(SHARE_STATE + S_PEND_LOCK, 0);
  serveSelf(self);
  return n;
}


/** Host address of the leaf PTE of page `page` of partition `id`, 0 if none. */
@inline export function pageSlot(id: u32, page: u32): usize {
  const p = partitionAddr(id);
  return gstageLeafSlot(load<u32>(p, P_GSTAGE_ROOT), load<u64>(p, P_RAM_GPA) + (<u64>page << 12));
}

/** The group (salt) of partition `id`. */
@inline export function groupOf(id: u32): u32 {
  return load<u32>(record(id) + R_GROUP);
}

// ---- figures and teardown ---------------------------------------------------------------

/** Guest pages of every partition that shares: a budget that takes the scanner over all of them once. */
export function sharePages(): u32 {
  const parts = <usize>state<u32>(S_PARTS);
  if (!parts) return 0;
  let pages: u32 = 0;
  for (let id: u32 = 0; id < MAX_PARTITIONS; id++) {
    if (atomic.load<u32>(parts + id * R_SIZE, R_ENABLED)) pages += <u32>(load<u64>(partitionAddr(id), P_RAM_SIZE) >> 12);
  }
  return pages;
}

/** A global counter (SC_*), as KSM's /sys/kernel/mm/ksm files. */
export function shareCounter(which: u32): u64 {
  switch (which) {
    case SC_PAGES_SHARED: return atomic.load<u32>(SHARE_STATE + S_SHARED_FRAMES);
    case SC_PAGES_SHARING: return atomic.load<u32>(SHARE_STATE + S_SHARING);
    case SC_ZERO_PAGES: return atomic.load<u32>(SHARE_STATE + S_ZERO_PAGES);
    case SC_UNSHARED: return atomic.load<u32>(SHARE_STATE + S_UNSHARED);
    case SC_FULL_SCANS: return atomic.load<u64>(SHARE_STATE + S_FULL_SCANS);
    case SC_SCANNED: return atomic.load<u64>(SHARE_STATE + S_SCANNED);
    case SC_MERGES: return atomic.load<u64>(SHARE_STATE + S_MERGES) + atomic.load<u64>(SHARE_STATE + S_ZERO_MERGES);
    case SC_COW_BREAKS: return atomic.load<u64>(SHARE_STATE + S_COW_BREAKS);
    case SC_PENDING_FREE: return atomic.load<u32>(SHARE_STATE + S_NPEND);
  }
  return 0;
}

/**
 * Partition `id` is destroyed (none of its vCPUs can run): every frame it
 * maps goes back to the pool (private ones now, shared ones with their last
 * mapping, after a grace period). Its RAM run must not be freed as a run
 * too. Returns the frames of private pages freed.
 */
export function shareRelease(id: u32): u32 {
  const p = partitionAddr(id);
  const pages = <u32>(load<u64>(p, P_RAM_SIZE) >> 12);
  let freed: u32 = 0;
  atomic.store<u32>(record(id) + R_ENABLED, 0);
  takeLock(0); // not while the scanner looks at it
  for (let page: u32 = 0; page < pages; page++) {
    const slot = pageSlot(id, page);
    if (!slot) continue;
    const pte = atomic.xchg<u64>(slot, 0);
    const f = gpteFrame(pte);
    if (!(pte & GPTE_V)) continue;
    if (pte & (GPTE_W | GPTE_MERGING)) {
      store<u32>(metaOf(f), 0);
      jitFrameWritten(f);
      frameFree(f);
      freed++;
    } else if (f == shareZeroFrame()) {
      atomic.sub<u32>(SHARE_STATE + S_ZERO_PAGES, 1);
    } else {
      atomic.sub<u32>(SHARE_STATE + S_SHARING, 1);
      unref(f);
    }
  }
  dropLock();
  return freed;
}
