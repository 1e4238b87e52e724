// Transparent page sharing (ESX's, KSM's): a scanner hashes guest frames,
// confirms candidates by a full compare, and maps identical pages onto one
// host frame copy-on-write; the duplicates go back to the frame pool. The
// first write to a shared page breaks the sharing (gpaToHostForStore, the
// one store choke point, mm/gpa.ts): the writer gets a private copy.
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
//   ballooned   not V, BALLOONED (mm/balloon.ts): no frame; refaults as zero
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
import {
  GPTE_D, GPTE_MERGING, GPTE_RWX_LEAF, GPTE_RX_LEAF, GPTE_SHARED, GPTE_V, GPTE_W, gpteFrame, gpteLeaf, gstageLeafSlot,
} from '../mmu/gstage';
import { frameAlloc, frameFree, framesAllocContiguous, framesEnd } from './frames';
import { frameHash, frameIsZero, framesEqual } from './hash';
import { partitionAddr, P_GSTAGE_ROOT, P_ID, P_RAM_GPA, P_RAM_SIZE } from './partition';
import { graceWait, REQ_SHADOW, shootdownPartition, shootdownServe, tlbDropFrame } from './shootdown';

const S_LOCK: u32 = 0x00;
const S_ZERO: u32 = 0x04;
const S_META: u32 = 0x08;
const S_NFRAMES: u32 = 0x0c;
const S_TABLE: u32 = 0x10;
const S_TMASK: u32 = 0x14;
const S_PARTS: u32 = 0x18;
const S_CUR_PART: u32 = 0x1c;
const S_CUR_PAGE: u32 = 0x20;
const S_PEND: u32 = 0x24;
const S_NPEND: u32 = 0x28;
const S_PEND_LOCK: u32 = 0x2c;
const S_BATCH: u32 = 0x30;
const S_UNSHARED_RUN: u32 = 0x38;
const S_UNSHARED: u32 = 0x3c;
const S_FULL_SCANS: u32 = 0x40;
const S_SCANNED: u32 = 0x48;
const S_MERGES: u32 = 0x50;
const S_ZERO_MERGES: u32 = 0x58;
const S_COW_BREAKS: u32 = 0x60;
const S_SHARED_FRAMES: u32 = 0x68;
const S_SHARING: u32 = 0x6c;
const S_ZERO_PAGES: u32 = 0x70;

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
const R_ENABLED: u32 = 0x00;
const R_GROUP: u32 = 0x04;
export const R_SHARED: u32 = 0x08; // pages mapped to a shared frame (not the zero frame)
export const R_ZERO: u32 = 0x0c; // pages mapped to the zero frame
export const R_BALLOONED: u32 = 0x10; // pages in the balloon (no frame)
export const R_COW_BREAKS: u32 = 0x14;
const R_SIZE: u32 = 32;

const META_MERGING: u32 = 1 << 31;
/** refs of the zero frame: never reaches 0. */
const REFS_PINNED: u32 = 1 << 30;
const PROBES: u32 = 8;
const BATCH_MAX: u32 = 16;
const PEND_CAP: u32 = 8192;

// Candidate kinds.
const K_ZERO: u32 = 1; // page -> the zero frame
const K_INTO: u32 = 2; // page -> an existing shared frame
const K_PAIR: u32 = 3; // two private pages -> the older one's frame, now shared

@inline function state<T>(off: u32): T {
  return load<T>(SHARE_STATE + off);
}
@inline function bump64(off: u32): void {
  atomic.add<u64>(SHARE_STATE + off, 1);
}

/** The zero frame, or 0 before shareInit. */
@inline export function shareZeroFrame(): u32 {
  return state<u32>(S_ZERO);
}

@inline function record(id: u32): usize {
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

@inline function metaOf(frame: u32): usize {
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
function unref(s: u32): void {
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
 * 0.4% of RAM. Once per host; false when the pool cannot hold it.
 */
function shareInit(): bool {
  if (state<u32>(S_META)) return true;
  const nframes = (framesEnd() - FRAME_POOL) >> 12;
  let entries: u32 = 1024;
  while (entries < nframes >> 1) entries <<= 1;
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
let lockHeld = false;

@inline function pendLock(self: usize): void {
  while (atomic.cmpxchg<u32>(SHARE_STATE + S_PEND_LOCK, 0, 1) != 0) serveSelf(self);
}

/** A vCPU spinning for a lock the scanner holds keeps serving its own requests: the scanner may be waiting for them. */
@inline function serveSelf(self: usize): void {
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
  const self = hart;
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

function takeLock(self: usize): void {
  while (atomic.cmpxchg<u32>(SHARE_STATE + S_LOCK, 0, 1) != 0) serveSelf(self);
  lockHeld = true;
}
function dropLock(): void {
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

function reclaimLocked(self: usize): u32 {
  const n = atomic.load<u32>(SHARE_STATE + S_NPEND);
  if (!n) return 0;
  graceAll(self); // frames queued before this point are now unused
  pendLock(self);
  const pend = <usize>state<u32>(S_PEND);
  for (let i: u32 = 0; i < n; i++) {
    const f = load<u32>(pend + (i << 2));
    store<u32>(metaOf(f), 0);
    frameFree(f);
  }
  const left = state<u32>(S_NPEND) - n;
  memory.copy(pend, pend + (n << 2), left << 2);
  store<u32>(SHARE_STATE + S_NPEND, left);
  atomic.store<u32>(SHARE_STATE + S_PEND_LOCK, 0);
  serveSelf(self);
  return n;
}

// ---- the store choke point's part: copy-on-write break ------------------------------

/**
 * Host address for a write to `gpa` of sharing partition `p` (root: its
 * G-stage root): a private frame, after breaking sharing, cancelling a
 * merge in progress, or giving a ballooned page a fresh frame. `self` is
 * the writing vCPU (its own TLB entries of the old frame go at once), 0 for
 * the host. -1: not RAM, or no frame left for the copy (the store faults).
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
      if (!fresh) return -1;
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
    if (pte == GPTE_BALLOONED_PTE) {
      const fresh = frameAlloc();
      if (!fresh) return -1;
      if (atomic.cmpxchg<u64>(slot, pte, gpteLeaf(fresh, GPTE_RWX_LEAF)) != pte) {
        frameFree(fresh);
        continue;
      }
      recordAdd(p, R_BALLOONED, -1);
      return <i64>fresh + off;
    }
    return -1;
  }
}

/** A ballooned page's leaf: not valid, BALLOONED (the same bit as SHARED, without V). */
export const GPTE_BALLOONED_PTE: u64 = GPTE_SHARED;

/**
 * A read of ballooned page `gpa` (slot `slot`): maps it to the zero frame
 * and returns its host address, or -1 if the page is not ballooned.
 */
export function shareRefaultZero(p: usize, slot: usize, gpa: u64): i64 {
  const zero = shareZeroFrame();
  if (!slot || !zero) return -1;
  for (;;) {
    const pte = atomic.load<u64>(slot);
    if (pte & GPTE_V) return <i64>gpteFrame(pte) + <i64>(gpa & 0xfff);
    if (pte != GPTE_BALLOONED_PTE) return -1;
    if (atomic.cmpxchg<u64>(slot, pte, gpteLeaf(zero, GPTE_RX_LEAF | GPTE_SHARED)) == pte) {
      recordAdd(p, R_BALLOONED, -1);
      recordAdd(p, R_ZERO, 1);
      atomic.add<u32>(SHARE_STATE + S_ZERO_PAGES, 1);
      return <i64>zero + <i64>(gpa & 0xfff);
    }
  }
  return -1; // not reached (AssemblyScript wants it)
}

/**
 * Takes guest page `gpa` of `p` out of its RAM (a balloon inflation): its
 * frame goes back to the pool after a grace period. Returns false if it is
 * not RAM or already ballooned.
 */
export function shareBalloonPage(p: usize, gpa: u64): bool {
  const slot = gstageLeafSlot(load<u32>(p, P_GSTAGE_ROOT), gpa);
  if (!slot) return false;
  for (;;) {
    const pte = atomic.load<u64>(slot);
    if (!(pte & GPTE_V)) return false;
    if (atomic.cmpxchg<u64>(slot, pte, GPTE_BALLOONED_PTE) != pte) continue;
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

// ---- the scanner ----------------------------------------------------------------------

// Batch entry (32 B): kind, x (partition id), g (page), pf (x's frame),
// y, h, f (the other side: y's page h, or the shared frame f), ok.
const B_KIND: u32 = 0, B_X: u32 = 4, B_G: u32 = 8, B_PF: u32 = 12, B_Y: u32 = 16, B_H: u32 = 20, B_F: u32 = 24, B_OK: u32 = 28;

@inline function batchAt(i: u32): usize {
  return <usize>state<u32>(S_BATCH) + (i << 5);
}

@inline function pageSlot(id: u32, page: u32): usize {
  const p = partitionAddr(id);
  return gstageLeafSlot(load<u32>(p, P_GSTAGE_ROOT), load<u64>(p, P_RAM_GPA) + (<u64>page << 12));
}

/** The group (salt) of partition `id`. */
@inline function groupOf(id: u32): u32 {
  return load<u32>(record(id) + R_GROUP);
}

/** Private page `page` of `id` mapped to `frame` -> write-protected for the compare; false if it changed. */
function writeProtect(id: u32, page: u32, frame: u32): bool {
  const slot = pageSlot(id, page);
  if (!slot) return false;
  const pte = atomic.load<u64>(slot);
  if (!(pte & GPTE_V) || !(pte & GPTE_W) || gpteFrame(pte) != frame) return false;
  atomic.or<u32>(metaOf(frame), META_MERGING);
  if (atomic.cmpxchg<u64>(slot, pte, (pte & ~(GPTE_W | GPTE_D)) | GPTE_MERGING) != pte) {
    atomic.and<u32>(metaOf(frame), ~META_MERGING);
    return false;
  }
  // Store entries (and writable shadow entries) of the frame must go before the compare.
  shootdownPartition(partitionAddr(id), frame, REQ_SHADOW, 0);
  return true;
}

/** Undoes writeProtect if the page is still merging (a store may have undone it already). */
function unprotect(id: u32, page: u32, frame: u32): void {
  const slot = pageSlot(id, page);
  const pte = atomic.load<u64>(slot);
  if (pte & GPTE_MERGING && gpteFrame(pte) == frame) {
    atomic.cmpxchg<u64>(slot, pte, gpteLeaf(frame, GPTE_RWX_LEAF));
  }
  atomic.and<u32>(metaOf(frame), ~META_MERGING);
}

/** Maps merging page `page` of `id` (frame `frame`) to shared frame `to`; false if a store came first. */
function remapShared(id: u32, page: u32, frame: u32, to: u32): bool {
  const slot = pageSlot(id, page);
  const pte = atomic.load<u64>(slot);
  if (!(pte & GPTE_MERGING) || gpteFrame(pte) != frame) return false;
  return atomic.cmpxchg<u64>(slot, pte, gpteLeaf(to, GPTE_RX_LEAF | GPTE_SHARED)) == pte;
}

/** `frame` (x's old private frame, now unmapped) leaves: its partition drops it, the pool gets it after a grace period. */
function retire(id: u32, frame: u32): void {
  store<u32>(metaOf(frame), 0);
  shootdownPartition(partitionAddr(id), frame, 0, 0);
  pendFree(frame);
}

function mergeOne(b: usize): void {
  const kind = load<u32>(b, B_KIND);
  const x = load<u32>(b, B_X), g = load<u32>(b, B_G), pf = load<u32>(b, B_PF);
  const px = partitionAddr(x);
  if (kind == K_ZERO) {
    const zero = shareZeroFrame();
    if (frameIsZero(pf) && remapShared(x, g, pf, zero)) {
      recordAdd(px, R_ZERO, 1);
      atomic.add<u32>(SHARE_STATE + S_ZERO_PAGES, 1);
      bump64(S_ZERO_MERGES);
      retire(x, pf);
    } else unprotect(x, g, pf);
    return;
  }
  const f = load<u32>(b, B_F);
  if (kind == K_INTO) {
    // Hold a reference while comparing: f is read-only while refs > 0.
    const m = metaOf(f);
    let refs = atomic.load<u32>(m);
    for (;;) {
      if (refs == 0 || refs & META_MERGING) {
        unprotect(x, g, pf);
        return;
      }
      const seen = atomic.cmpxchg<u32>(m, refs, refs + 1);
      if (seen == refs) break;
      refs = seen;
    }
    if (framesEqual(pf, f) && remapShared(x, g, pf, f)) {
      recordAdd(px, R_SHARED, 1);
      atomic.add<u32>(SHARE_STATE + S_SHARING, 1);
      bump64(S_MERGES);
      retire(x, pf);
    } else {
      unprotect(x, g, pf);
      unref(f);
    }
    return;
  }
  // K_PAIR: y's page h (frame f) becomes the shared frame, x's page maps it too.
  const y = load<u32>(b, B_Y), h = load<u32>(b, B_H);
  const py = partitionAddr(y);
  if (!framesEqual(pf, f)) {
    unprotect(x, g, pf);
    unprotect(y, h, f);
    return;
  }
  store<u32>(metaOf(f) + 4, groupOf(y));
  atomic.store<u32>(metaOf(f), META_MERGING | 2);
  if (!remapShared(y, h, f, f)) {
    atomic.store<u32>(metaOf(f), 0);
    unprotect(x, g, pf);
    return;
  }
  atomic.store<u32>(metaOf(f), 2);
  atomic.add<u32>(SHARE_STATE + S_SHARED_FRAMES, 1);
  recordAdd(py, R_SHARED, 1);
  atomic.add<u32>(SHARE_STATE + S_SHARING, 1);
  if (remapShared(x, g, pf, f)) {
    recordAdd(px, R_SHARED, 1);
    atomic.add<u32>(SHARE_STATE + S_SHARING, 1);
    bump64(S_MERGES);
    retire(x, pf);
  } else {
    unprotect(x, g, pf);
    unref(f); // y alone maps it (refs 1): its first write copies it
  }
}

/** Merges the batch: write-protect every candidate, one grace period, then compare and remap each. */
function processBatch(n: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    const b = batchAt(i);
    const x = load<u32>(b, B_X), g = load<u32>(b, B_G), pf = load<u32>(b, B_PF);
    let ok = writeProtect(x, g, pf);
    if (ok && load<u32>(b, B_KIND) == K_PAIR) {
      ok = writeProtect(load<u32>(b, B_Y), load<u32>(b, B_H), load<u32>(b, B_F));
      if (!ok) unprotect(x, g, pf);
    }
    store<u32>(b + B_OK, ok ? 1 : 0);
  }
  // No vCPU can still be inside a store to a write-protected frame.
  for (let i: u32 = 0; i < n; i++) {
    const b = batchAt(i);
    if (load<u32>(b, B_OK)) graceWait(partitionAddr(load<u32>(b, B_X)), 0);
    if (load<u32>(b, B_OK) && load<u32>(b, B_KIND) == K_PAIR) graceWait(partitionAddr(load<u32>(b, B_Y)), 0);
  }
  for (let i: u32 = 0; i < n; i++) {
    const b = batchAt(i);
    if (load<u32>(b, B_OK)) mergeOne(b);
  }
}

/** Looks at page `page` of `id`: a candidate goes into the batch (returns true), or the page into the table. */
function scanPage(id: u32, page: u32, nb: u32): bool {
  const slot = pageSlot(id, page);
  if (!slot) return false;
  const pte = atomic.load<u64>(slot);
  if (!(pte & GPTE_V) || !(pte & GPTE_W)) return false; // shared, merging or ballooned already
  const frame = gpteFrame(pte);
  const b = batchAt(nb);
  store<u32>(b + B_X, id);
  store<u32>(b + B_G, page);
  store<u32>(b + B_PF, frame);
  if (frameIsZero(frame)) {
    store<u32>(b + B_KIND, K_ZERO);
    return true;
  }
  const group = groupOf(id);
  // The salt is part of the key: pages of different groups land apart, and
  // a group check below stops any collision.
  const key = (frameHash(frame) ^ (group * 0x9e37_79b1)) | 1;
  const table = <usize>state<u32>(S_TABLE);
  const mask = state<u32>(S_TMASK);
  let free: usize = 0;
  for (let i: u32 = 0; i < PROBES; i++) {
    const e = table + (<usize>((key + i) & mask) << 4);
    const k = load<u32>(e);
    if (k == 0) {
      if (!free) free = e;
      break;
    }
    if (k != key) continue;
    const f = load<u32>(e, 4);
    const y = load<u32>(e, 8), h = load<u32>(e, 12);
    const m = metaOf(f);
    const refs = m ? atomic.load<u32>(m) : 0;
    if (refs != 0 && !(refs & META_MERGING) && refs < REFS_PINNED && load<u32>(m, 4) == group) {
      store<u32>(b + B_KIND, K_INTO);
      store<u32>(b + B_F, f);
      return true;
    }
    if (refs == 0 && (y != id || h != page) && y < MAX_PARTITIONS && atomic.load<u32>(record(y) + R_ENABLED) &&
        groupOf(y) == group) {
      const ys = pageSlot(y, h);
      const ypte = ys ? atomic.load<u64>(ys) : 0;
      if (ypte & GPTE_V && ypte & GPTE_W && gpteFrame(ypte) == f) {
        store<u32>(b + B_KIND, K_PAIR);
        store<u32>(b + B_Y, y);
        store<u32>(b + B_H, h);
        store<u32>(b + B_F, f);
        // The entry names the frame that will be shared (a later K_INTO finds it).
        return true;
      }
    }
    free = e; // stale (or this very page): take it over
    break;
  }
  if (!free) free = table + (<usize>(key & mask) << 4);
  store<u32>(free, key);
  store<u32>(free, frame, 4);
  store<u32>(free, id, 8);
  store<u32>(free, page, 12);
  atomic.add<u32>(SHARE_STATE + S_UNSHARED_RUN, 1);
  return false;
}

/**
 * One slice of the scanner: looks at up to `budget` pages of the sharing
 * partitions, round robin from where the last slice stopped, merges what it
 * found and frees what waited for a grace period. Returns pages scanned
 * (0 when another thread is scanning). The host calls it from idle time:
 * the pages per slice and slices per second are the rate control.
 */
export function shareScan(budget: u32): u32 {
  if (!state<u32>(S_META)) return 0;
  if (atomic.cmpxchg<u32>(SHARE_STATE + S_LOCK, 0, 1) != 0) return 0;
  lockHeld = true;
  const parts = <usize>state<u32>(S_PARTS);
  let id = state<u32>(S_CUR_PART);
  let page = state<u32>(S_CUR_PAGE);
  let nb: u32 = 0;
  let scanned: u32 = 0;
  let empty: u32 = 0; // partitions passed without a sharing one: stop after a full lap
  while (scanned < budget && empty <= MAX_PARTITIONS) {
    if (id >= MAX_PARTITIONS) {
      id = 0;
      page = 0;
      bump64(S_FULL_SCANS);
      atomic.store<u32>(SHARE_STATE + S_UNSHARED, atomic.xchg<u32>(SHARE_STATE + S_UNSHARED_RUN, 0));
    }
    const p = partitionAddr(id);
    if (!atomic.load<u32>(parts + id * R_SIZE, R_ENABLED) || page >= <u32>(load<u64>(p, P_RAM_SIZE) >> 12)) {
      id++;
      page = 0;
      empty++;
      continue;
    }
    empty = 0;
    if (scanPage(id, page, nb)) nb++;
    page++;
    scanned++;
    if (nb == BATCH_MAX) {
      processBatch(nb);
      nb = 0;
    }
  }
  if (nb) processBatch(nb);
  store<u32>(SHARE_STATE + S_CUR_PART, id);
  store<u32>(SHARE_STATE + S_CUR_PAGE, page);
  atomic.add<u64>(SHARE_STATE + S_SCANNED, scanned);
  reclaimLocked(0);
  dropLock();
  return scanned;
}

// ---- figures and teardown ---------------------------------------------------------------

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
