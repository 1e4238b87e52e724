// The host frame allocator: 4 KiB frames of the frame pool, shared by every
// pCPU thread (state in host memory, guarded by a spin lock on wasm atomics).
//
//   FRAMES_STATE +0x00 lock  u32    0 free, 1 held
//                +0x04 total u32    frames in the pool
//                +0x08 next  u32    first never-allocated frame (bump)
//                +0x0c end   u32    end of the pool (exclusive)
//                +0x10 free  u32    head of the free list (0 = empty);
//                                   a free frame's first word links the next
//                +0x14 used  u32    frames handed out and not freed
//                +0x18 nruns u32    freed runs below (a destroyed partition's RAM)
//                +0x20 runs  28 x (base u32, count u32), kept apart: adjacent
//                                   runs are merged when freed
//
// Contiguous runs (a partition's RAM, a 16 KiB G-stage root) come from a
// freed run that fits (first fit), else the bump pointer; single frames come
// from the free list, then the bump pointer, then the freed runs. Every frame
// is handed out zeroed: reused ones are cleared, and frames past the bump
// pointer have never been written (host memory is created zeroed, and
// nothing but this allocator hands out the pool).
//
// A frame freed may have held translated code (kernel/jit/code.ts): its
// write generation is bumped before it can be handed out again, so no
// thread's translation of the old contents runs on the next owner's bytes
// (a partition destroyed and another created on its RAM: a revert, a clone).
import { FRAMES_STATE, PAGE_SIZE } from '../layout';
import { jitFrameWritten, jitRangeWritten } from '../jit/code';

const F_LOCK: u32 = 0x00;
const F_TOTAL: u32 = 0x04;
const F_NEXT: u32 = 0x08;
const F_END: u32 = 0x0c;
const F_FREE: u32 = 0x10;
const F_USED: u32 = 0x14;
const F_NRUNS: u32 = 0x18;
const F_RUNS: u32 = 0x20;
const MAX_RUNS: u32 = 28;

@inline function lock(): void {
  while (atomic.cmpxchg<u32>(FRAMES_STATE, 0, 1, F_LOCK) != 0) {}
}
@inline function unlock(): void {
  atomic.store<u32>(FRAMES_STATE, 0, F_LOCK);
}

/** Hands the pool [start, end) to the allocator (host boot). */
export function framesInit(start: u32, end: u32): void {
  const first = (start + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  const last = end & ~(PAGE_SIZE - 1);
  store<u32>(FRAMES_STATE, first, F_NEXT);
  store<u32>(FRAMES_STATE, last, F_END);
  store<u32>(FRAMES_STATE, last > first ? (last - first) / PAGE_SIZE : 0, F_TOTAL);
  store<u32>(FRAMES_STATE, 0, F_FREE);
  store<u32>(FRAMES_STATE, 0, F_USED);
  store<u32>(FRAMES_STATE, 0, F_NRUNS);
  atomic.store<u32>(FRAMES_STATE, 0, F_LOCK);
}

/** One zeroed frame, or 0 when the pool is exhausted. */
export function frameAlloc(): u32 {
  lock();
  let fresh = false;
  let f = load<u32>(FRAMES_STATE, F_FREE);
  if (f) {
    store<u32>(FRAMES_STATE, load<u32>(f), F_FREE);
  } else {
    f = load<u32>(FRAMES_STATE, F_NEXT);
    if (f + PAGE_SIZE > load<u32>(FRAMES_STATE, F_END) || f + PAGE_SIZE < f) {
      f = takeFromRuns(1, PAGE_SIZE);
      if (!f) {
        unlock();
        return 0;
      }
    } else {
      store<u32>(FRAMES_STATE, f + PAGE_SIZE, F_NEXT);
      fresh = true;
    }
  }
  store<u32>(FRAMES_STATE, load<u32>(FRAMES_STATE, F_USED) + 1, F_USED);
  unlock();
  if (!fresh) memory.fill(f, 0, PAGE_SIZE); // the free list's link, an old tenant's data
  return f;
}

/** `count` contiguous zeroed frames aligned to `align` bytes (a power of two), or 0. */
export function framesAllocContiguous(count: u32, align: u32): u32 {
  lock();
  const reused = takeFromRuns(count, align);
  if (reused) {
    store<u32>(FRAMES_STATE, load<u32>(FRAMES_STATE, F_USED) + count, F_USED);
    unlock();
    memory.fill(reused, 0, count * PAGE_SIZE);
    return reused;
  }
  const next = load<u32>(FRAMES_STATE, F_NEXT);
  const base = (next + align - 1) & ~(align - 1);
  const end = base + count * PAGE_SIZE;
  if (base < next || end < base || end > load<u32>(FRAMES_STATE, F_END)) {
    unlock();
    return 0;
  }
  pushFree(next, base); // frames skipped for alignment are not lost
  store<u32>(FRAMES_STATE, end, F_NEXT);
  store<u32>(FRAMES_STATE, load<u32>(FRAMES_STATE, F_USED) + count, F_USED);
  unlock();
  // Never handed out before: still as zero as the host memory was created
  // (zeroing a partition's RAM here cost ~100 ms per 128 MiB at start-up).
  return base;
}

export function frameFree(f: u32): void {
  jitFrameWritten(f);
  lock();
  store<u32>(f, load<u32>(FRAMES_STATE, F_FREE));
  store<u32>(FRAMES_STATE, f, F_FREE);
  store<u32>(FRAMES_STATE, load<u32>(FRAMES_STATE, F_USED) - 1, F_USED);
  unlock();
}

export function framesUsed(): u32 {
  return atomic.load<u32>(FRAMES_STATE, F_USED);
}

/** Frames not handed out: what admission control and the no-memory exit look at (runtime/host/memory-pressure.ts). */
export function framesAvailable(): u32 {
  return load<u32>(FRAMES_STATE, F_TOTAL) - atomic.load<u32>(FRAMES_STATE, F_USED);
}

/** End of the pool (exclusive): what per-frame tables (mm/share.ts) must cover. */
export function framesEnd(): u32 {
  return load<u32>(FRAMES_STATE, F_END);
}

// ---- freed runs ----------------------------------------------------------------

@inline function runAt(i: u32): usize {
  return FRAMES_STATE + F_RUNS + i * 8;
}

function removeRun(i: u32): void {
  const n = load<u32>(FRAMES_STATE, F_NRUNS) - 1;
  store<u64>(runAt(i), load<u64>(runAt(n)));
  store<u32>(FRAMES_STATE, n, F_NRUNS);
}

/** Adds [base, base + count frames) to the runs, merging neighbours; false if the table is full. Lock held. */
function addRun(base: u32, count: u32): bool {
  let end = base + count * PAGE_SIZE;
  for (let i: u32 = 0; i < load<u32>(FRAMES_STATE, F_NRUNS); ) {
    const b = load<u32>(runAt(i));
    const e = b + load<u32>(runAt(i), 4) * PAGE_SIZE;
    if (e == base || b == end) {
      if (e == base) base = b;
      else end = e;
      removeRun(i); // merged into the new run; look at the one moved here
      continue;
    }
    i++;
  }
  const n = load<u32>(FRAMES_STATE, F_NRUNS);
  if (n == MAX_RUNS) return false;
  store<u32>(runAt(n), base);
  store<u32>(runAt(n), (end - base) / PAGE_SIZE, 4);
  store<u32>(FRAMES_STATE, n + 1, F_NRUNS);
  return true;
}

/** `count` frames aligned to `align` carved from a freed run (first fit), or 0. Lock held; `used` is the caller's. */
function takeFromRuns(count: u32, align: u32): u32 {
  const n = load<u32>(FRAMES_STATE, F_NRUNS);
  for (let i: u32 = 0; i < n; i++) {
    const b = load<u32>(runAt(i));
    const e = b + load<u32>(runAt(i), 4) * PAGE_SIZE;
    const at = (b + align - 1) & ~(align - 1);
    if (at < b || at + count * PAGE_SIZE > e || at + count * PAGE_SIZE < at) continue;
    removeRun(i);
    // What is left on either side stays free: as runs, or frame by frame
    // on the free list when the table is full.
    if (at > b && !addRun(b, (at - b) / PAGE_SIZE)) pushFree(b, at);
    const rest = at + count * PAGE_SIZE;
    if (rest < e && !addRun(rest, (e - rest) / PAGE_SIZE)) pushFree(rest, e);
    return at;
  }
  return 0;
}

/** Frames [from, to) onto the free list. Lock held. */
function pushFree(from: u32, to: u32): void {
  for (let f = from; f < to; f += PAGE_SIZE) {
    store<u32>(f, load<u32>(FRAMES_STATE, F_FREE));
    store<u32>(FRAMES_STATE, f, F_FREE);
  }
}

/** Returns a run of `count` frames from `base` (a destroyed partition's RAM) to the pool, reusable as a whole. */
export function framesFreeRun(base: u32, count: u32): void {
  if (count == 0) return;
  jitRangeWritten(base, count * PAGE_SIZE);
  lock();
  if (!addRun(base, count)) pushFree(base, base + count * PAGE_SIZE);
  store<u32>(FRAMES_STATE, load<u32>(FRAMES_STATE, F_USED) - count, F_USED);
  unlock();
}
