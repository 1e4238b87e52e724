// The page-sharing scanner (mm/share.ts): runs in slices of a few pages
// from idle time (the host's rate control), round robin over the sharing
// partitions. A page is hashed (mm/hash.ts) with its group's salt; the
// table remembers one page per key, so a second page with the same key is
// a candidate: a K_PAIR (both private: the older page's frame becomes the
// shared one), a K_INTO (the table names a shared frame already), or, for
// an all-zero page, a K_ZERO (the zero frame). Candidates go in batches:
//
//   1. write-protect every candidate page (W -> MERGING, a CAS on its PTE)
//      and push its frame to its partition's vCPUs (shootdown.ts);
//   2. one grace period: no vCPU can still be inside a store to them;
//   3. full compare and remap each (CAS MERGING -> SHARED): a store that
//      came meanwhile took W back and the CAS fails, so no write is lost;
//   4. the duplicates leave (pushed again, freed after the next grace).
//
// The scan walks each leaf table once for up to 512 pages and reads the
// leaves in a row; only private pages (a frame of their own) are looked at
// and count against the budget, as KSM counts only present pages. Pages
// without a frame of their own (unpopulated, ballooned, shared, swapped)
// cost one 8-byte load each: a partition of demand-allocated RAM that has
// written a tenth of it is scanned at the rate of that tenth.
import { SHARE_STATE, MAX_PARTITIONS } from '../layout';
import { GPTE_MERGING, GPTE_RWX_LEAF, GPTE_RX_LEAF, GPTE_SHARED, GPTE_V, GPTE_W, GPTE_D, gpteFrame, gpteLeaf, gstageLeafSlot, leafPinned } from '../mmu/gstage';
import { frameIsZero, frameHash, framesEqual } from './hash';
import { partitionAddr, P_GSTAGE_ROOT, P_RAM_GPA, P_RAM_SIZE } from './partition';
import {
  bump64, dropLock, groupOf, lockHeld, META_MERGING, metaOf, pageSlot, pendFree, reclaimLocked, record, recordAdd, REFS_PINNED,
  R_ENABLED, R_SHARED, R_SIZE, R_ZERO, S_BATCH, S_CUR_PAGE, S_CUR_PART, S_FULL_SCANS, S_LOCK, S_MERGES, S_META, S_PARTS, S_SCANNED,
  S_SHARED_FRAMES, S_SHARING, S_TABLE, S_TMASK, S_UNSHARED, S_UNSHARED_RUN, S_ZERO_MERGES, S_ZERO_PAGES, setLockHeld, shareZeroFrame,
  sharePages, state, unref,
} from './share';
import { graceWait, REQ_SHADOW, shootdownPartition } from './shootdown';

const PROBES: u32 = 8;
const BATCH_MAX: u32 = 16;

// Candidate kinds.
const K_ZERO: u32 = 1; // page -> the zero frame
const K_INTO: u32 = 2; // page -> an existing shared frame
const K_PAIR: u32 = 3; // two private pages -> the older one's frame, now shared

// Batch entry (64 B): kind, x (partition id), g (page), pf (x's frame),
// y, h, f (the other side: y's page h, or the shared frame f), ok; for a
// K_PAIR or K_INTO, the table entry that named it and x's key.
const B_KIND: u32 = 0, B_X: u32 = 4, B_G: u32 = 8, B_PF: u32 = 12, B_Y: u32 = 16, B_H: u32 = 20, B_F: u32 = 24, B_OK: u32 = 28;
const B_ENTRY: u32 = 32, B_KEY: u32 = 36;

@inline function batchAt(i: u32): usize {
  return <usize>state<u32>(S_BATCH) + (i << 6);
}

/** The table entry `e` (key, y's page h) that made candidate `b`. */
@inline function noteEntry(b: usize, e: usize, key: u32, y: u32, h: u32): void {
  store<u32>(b + B_Y, y);
  store<u32>(b + B_H, h);
  store<u32>(b + B_ENTRY, <u32>e);
  store<u32>(b + B_KEY, key);
}

/**
 * A candidate whose compare failed: the entry's frame does not hold what its
 * key says (y's page changed since it was hashed, or the entry outlived the
 * page and names a frame shared since with other bytes). x's page, hashed
 * just now, takes the entry over; left stale, it would turn every later page
 * of that key into a failed candidate and none of them would ever merge.
 */
function refreshEntry(b: usize): void {
  const e = <usize>load<u32>(b, B_ENTRY);
  if (load<u32>(e) != load<u32>(b, B_KEY) || load<u32>(e, 4) != load<u32>(b, B_F) || load<u32>(e, 8) != load<u32>(b, B_Y) ||
      load<u32>(e, 12) != load<u32>(b, B_H)) return; // taken over meanwhile
  store<u32>(e, load<u32>(b, B_PF), 4);
  store<u32>(e, load<u32>(b, B_X), 8);
  store<u32>(e, load<u32>(b, B_G), 12);
}

/** Private page `page` of `id` mapped to `frame` -> write-protected for the compare; false if it changed. */
function writeProtect(id: u32, page: u32, frame: u32): bool {
  const slot = pageSlot(id, page);
  if (!slot) return false;
  const pte = atomic.load<u64>(slot);
  if (!(pte & GPTE_V) || !(pte & GPTE_W) || gpteFrame(pte) != frame || leafPinned(pte)) return false;
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
    const equal = framesEqual(pf, f);
    if (equal && remapShared(x, g, pf, f)) {
      recordAdd(px, R_SHARED, 1);
      atomic.add<u32>(SHARE_STATE + S_SHARING, 1);
      bump64(S_MERGES);
      retire(x, pf);
    } else {
      unprotect(x, g, pf);
      unref(f);
      // f is read-only: the entry's key was not its content (the entry named
      // the frame while it was private and changing, before a merge shared it).
      if (!equal) refreshEntry(b);
    }
    return;
  }
  // K_PAIR: y's page h (frame f) becomes the shared frame, x's page maps it too.
  const y = load<u32>(b, B_Y), h = load<u32>(b, B_H);
  const py = partitionAddr(y);
  if (!framesEqual(pf, f)) {
    unprotect(x, g, pf);
    unprotect(y, h, f);
    refreshEntry(b);
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

// scanPage's answers.
const SCAN_NONE: u32 = 0; // nothing to merge (the page may be in the table now)
const SCAN_CANDIDATE: u32 = 1; // a candidate went into the batch
const SCAN_AGAIN: u32 = 2; // its partner is already in the batch: merge the batch, then look again

/** True if the batch's first `nb` candidates pair some page with page `h` of `y`. */
function pairPending(y: u32, h: u32, nb: u32): bool {
  for (let i: u32 = 0; i < nb; i++) {
    const b = batchAt(i);
    if (load<u32>(b, B_KIND) == K_PAIR && load<u32>(b, B_Y) == y && load<u32>(b, B_H) == h) return true;
  }
  return false;
}

/** A page the scanner looks at: a frame of its own, not the host's (not shared, merging, pinned, or without a frame). */
@inline function scannable(pte: u64): bool {
  return (pte & (GPTE_V | GPTE_W)) == (GPTE_V | GPTE_W) && !leafPinned(pte);
}

/** Looks at private page `page` of `id` (leaf `pte`): a candidate goes into the batch at `nb`, or the page into the table (SCAN_*). */
function scanPage(id: u32, page: u32, pte: u64, nb: u32): u32 {
  const frame = gpteFrame(pte);
  const b = batchAt(nb);
  store<u32>(b + B_X, id);
  store<u32>(b + B_G, page);
  store<u32>(b + B_PF, frame);
  if (frameIsZero(frame)) {
    store<u32>(b + B_KIND, K_ZERO);
    return SCAN_CANDIDATE;
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
      noteEntry(b, e, key, y, h);
      return SCAN_CANDIDATE;
    }
    if (refs == 0 && (y != id || h != page) && y < MAX_PARTITIONS && atomic.load<u32>(record(y) + R_ENABLED) &&
        groupOf(y) == group) {
      const ys = pageSlot(y, h);
      const ypte = ys ? atomic.load<u64>(ys) : 0;
      if (ypte & GPTE_V && ypte & GPTE_W && gpteFrame(ypte) == f) {
        // A third copy while the first two are in the batch: once they are
        // merged, the entry names a shared frame and this page goes into it.
        if (pairPending(y, h, nb)) return SCAN_AGAIN;
        store<u32>(b + B_KIND, K_PAIR);
        store<u32>(b + B_Y, y);
        store<u32>(b + B_H, h);
        store<u32>(b + B_F, f);
        noteEntry(b, e, key, y, h);
        // The entry names the frame that will be shared (a later K_INTO finds it).
        return SCAN_CANDIDATE;
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
  return SCAN_NONE;
}

/**
 * One slice of the scanner: looks at up to `budget` private pages of the
 * sharing partitions, round robin from where the last slice stopped, and at
 * most one lap of them all; merges what it found and frees what waited for a
 * grace period. Returns private pages scanned (0 when another thread is
 * scanning). The host calls it from idle time: the pages per slice and
 * slices per second are the rate control.
 */
export function shareScan(budget: u32): u32 {
  if (!state<u32>(S_META)) return 0;
  if (atomic.cmpxchg<u32>(SHARE_STATE + S_LOCK, 0, 1) != 0) return 0;
  setLockHeld(true);
  const parts = <usize>state<u32>(S_PARTS);
  let id = state<u32>(S_CUR_PART);
  let page = state<u32>(S_CUR_PAGE);
  let nb: u32 = 0;
  let scanned: u32 = 0;
  // Pages without a frame cost no budget, so a lap bounds the call instead.
  const lap = sharePages();
  let passed: u32 = 0;
  let empty: u32 = 0; // partitions passed without a sharing one: stop after a full lap (one may stop sharing meanwhile)
  while (scanned < budget && passed < lap && empty <= MAX_PARTITIONS) {
    if (id >= MAX_PARTITIONS) {
      id = 0;
      page = 0;
      bump64(S_FULL_SCANS);
      atomic.store<u32>(SHARE_STATE + S_UNSHARED, atomic.xchg<u32>(SHARE_STATE + S_UNSHARED_RUN, 0));
    }
    const p = partitionAddr(id);
    const pages = <u32>(load<u64>(p, P_RAM_SIZE) >> 12);
    if (!atomic.load<u32>(parts + id * R_SIZE, R_ENABLED) || page >= pages) {
      id++;
      page = 0;
      empty++;
      continue;
    }
    empty = 0;
    // The rest of the leaf table holding `page`: one walk, then its leaves in a row.
    const gpa = load<u64>(p, P_RAM_GPA) + (<u64>page << 12);
    const first = <u32>(gpa >> 12) & 511;
    const run = min<u32>(512 - first, pages - page);
    const leaves = gstageLeafSlot(load<u32>(p, P_GSTAGE_ROOT), gpa);
    let i: u32 = 0;
    if (!leaves) i = run; // no table: nothing mapped there
    while (i < run && scanned < budget) {
      const pte = atomic.load<u64>(leaves + (<usize>i << 3));
      if (!scannable(pte)) {
        i++;
        continue;
      }
      const r = scanPage(id, page + i, pte, nb);
      if (r == SCAN_AGAIN) {
        processBatch(nb);
        nb = 0;
        continue; // the same page again, with an empty batch
      }
      if (r == SCAN_CANDIDATE) nb++;
      i++;
      scanned++;
      if (nb == BATCH_MAX) {
        processBatch(nb);
        nb = 0;
      }
    }
    page += i;
    passed += i;
  }
  if (nb) processBatch(nb);
  store<u32>(SHARE_STATE + S_CUR_PART, id);
  store<u32>(SHARE_STATE + S_CUR_PAGE, page);
  atomic.add<u64>(SHARE_STATE + S_SCANNED, scanned);
  reclaimLocked(0);
  dropLock();
  return scanned;
}
