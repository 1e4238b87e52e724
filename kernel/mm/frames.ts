// The host frame allocator: 4 KiB frames of the frame pool, shared by every
// pCPU thread (state in host memory, guarded by a spin lock on wasm atomics).
//
//   FRAMES_STATE +0x00 lock  u32    0 free, 1 held
//                +0x08 next  u32    first never-allocated frame (bump)
//                +0x0c end   u32    end of the pool (exclusive)
//                +0x10 free  u32    head of the free list (0 = empty);
//                                   a free frame's first word links the next
//                +0x14 used  u32    frames handed out and not freed
//
// Contiguous runs (a partition's RAM, a 16 KiB G-stage root) come from the
// bump pointer; single frames come from the free list first.
import { FRAMES_STATE, PAGE_SIZE } from '../layout';

const F_LOCK: u32 = 0x00;
const F_NEXT: u32 = 0x08;
const F_END: u32 = 0x0c;
const F_FREE: u32 = 0x10;
const F_USED: u32 = 0x14;

@inline function lock(): void {
  while (atomic.cmpxchg<u32>(FRAMES_STATE, 0, 1, F_LOCK) != 0) {}
}
@inline function unlock(): void {
  atomic.store<u32>(FRAMES_STATE, 0, F_LOCK);
}

/** Hands the pool [start, end) to the allocator (host boot). */
export function framesInit(start: u32, end: u32): void {
  store<u32>(FRAMES_STATE, (start + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1), F_NEXT);
  store<u32>(FRAMES_STATE, end & ~(PAGE_SIZE - 1), F_END);
  store<u32>(FRAMES_STATE, 0, F_FREE);
  store<u32>(FRAMES_STATE, 0, F_USED);
  atomic.store<u32>(FRAMES_STATE, 0, F_LOCK);
}

/** One zeroed frame, or 0 when the pool is exhausted. */
export function frameAlloc(): u32 {
  lock();
  let f = load<u32>(FRAMES_STATE, F_FREE);
  if (f) {
    store<u32>(FRAMES_STATE, load<u32>(f), F_FREE);
  } else {
    f = load<u32>(FRAMES_STATE, F_NEXT);
    if (f + PAGE_SIZE > load<u32>(FRAMES_STATE, F_END) || f + PAGE_SIZE < f) {
      unlock();
      return 0;
    }
    store<u32>(FRAMES_STATE, f + PAGE_SIZE, F_NEXT);
  }
  store<u32>(FRAMES_STATE, load<u32>(FRAMES_STATE, F_USED) + 1, F_USED);
  unlock();
  memory.fill(f, 0, PAGE_SIZE);
  return f;
}

/** `count` contiguous zeroed frames aligned to `align` bytes (a power of two), or 0. */
export function framesAllocContiguous(count: u32, align: u32): u32 {
  lock();
  const next = load<u32>(FRAMES_STATE, F_NEXT);
  const base = (next + align - 1) & ~(align - 1);
  const end = base + count * PAGE_SIZE;
  if (base < next || end < base || end > load<u32>(FRAMES_STATE, F_END)) {
    unlock();
    return 0;
  }
  // Frames skipped for alignment go to the free list rather than being lost.
  for (let f = next; f < base; f += PAGE_SIZE) {
    store<u32>(f, load<u32>(FRAMES_STATE, F_FREE));
    store<u32>(FRAMES_STATE, f, F_FREE);
  }
  store<u32>(FRAMES_STATE, end, F_NEXT);
  store<u32>(FRAMES_STATE, load<u32>(FRAMES_STATE, F_USED) + count, F_USED);
  unlock();
  memory.fill(base, 0, count * PAGE_SIZE);
  return base;
}

export function frameFree(f: u32): void {
  lock();
  store<u32>(f, load<u32>(FRAMES_STATE, F_FREE));
  store<u32>(FRAMES_STATE, f, F_FREE);
  store<u32>(FRAMES_STATE, load<u32>(FRAMES_STATE, F_USED) - 1, F_USED);
  unlock();
}

export function framesUsed(): u32 {
  return atomic.load<u32>(FRAMES_STATE, F_USED);
}
