// TLB shootdown for page sharing and ballooning: how a thread that changes
// where a guest page lives (a merge, a copy-on-write break, a balloon
// inflation) makes every vCPU drop what it cached of the old host frame,
// and knows when none can still be using it.
//
// Each vCPU has a small request list in its block (H_MM_*): host frames to
// drop, or REQ_FLUSH_ALL when more were queued than it holds, and
// REQ_SHADOW when its shadow tables must go too (they may map a frame
// writable). Whoever changed a mapping pushes the old frame onto the lists
// of the partition's vCPUs; the list is served
//
//   - by the vCPU itself at its next instruction boundary (the attention
//     path, cpu/exception.ts clearEvents) or when it next enters run();
//   - or, while it is off its pCPU, by the thread waiting for it (graceWait),
//     which takes the vCPU's TLB first (H_MM_OWNER 0 -> 2) so that the two
//     never touch it at once.
//
// Serving drops exactly the TLB entries whose host page is a listed frame
// (precise: other pages keep their entries). A frame is freed or reused only
// after a grace period: every vCPU of the partitions that mapped it has
// served its list, so no instruction still holds an address inside it (an
// instruction computes its host address and uses it before its boundary).
//
//   changer                          vCPU (its thread)
//   remap the page (CAS on the PTE)  OWNER 0 -> 1 (spins while 2)
//   push frame, set attention        ... instruction ...
//   graceWait: OWNER 0 -> 2: serve;  boundary: serve the list
//     OWNER 1: wait for the list     run() returns: OWNER 1 -> 0
//   free the frame
//
// wasm atomics are sequentially consistent, so a vCPU entering run() either
// sees the pushed request, or the changer sees OWNER = 1 and waits.
import { hart, setHart, H_ATTENTION, H_MM_FRAMES, H_MM_LOCK, H_MM_OWNER, H_MM_REQ, H_PARTITION, H_TLB } from '../cpu/hart';
import { vcpuAddr } from '../layout';
import { shadowFlush } from '../mmu/shadow';
import { TLB_SIZE, tlbFlushAll } from '../mmu/tlb';
import { PF_SHADOW, P_FIRST_VCPU, P_FLAGS, P_NVCPUS } from './partition';

const MAX_FRAMES: u32 = 13;
const REQ_COUNT: u32 = 0xff;
/** More frames were pushed than the list holds: drop the whole TLB. */
const REQ_FLUSH_ALL: u32 = 1 << 8;
/** Drop the shadow tables too (they may map a listed frame writable). */
export const REQ_SHADOW: u32 = 1 << 9;

const OWNER_OFF: u32 = 0;
const OWNER_RUNNING: u32 = 1;
const OWNER_SERVED: u32 = 2;

@inline function lock(v: usize): void {
  while (atomic.cmpxchg<u32>(v + H_MM_LOCK, 0, 1) != 0) {}
}
@inline function unlock(v: usize): void {
  atomic.store<u32>(v + H_MM_LOCK, 0);
}

/** Queues host frame `frame` (4 KiB aligned) for vCPU `v` to drop; `bits` may add REQ_SHADOW. */
export function shootdownPush(v: usize, frame: u32, bits: u32): void {
  lock(v);
  const req = load<u32>(v, H_MM_REQ);
  const n = req & REQ_COUNT;
  if (n < MAX_FRAMES) {
    store<u32>(v + H_MM_FRAMES + (n << 2), frame);
    atomic.store<u32>(v + H_MM_REQ, (req + 1) | bits);
  } else {
    atomic.store<u32>(v + H_MM_REQ, req | REQ_FLUSH_ALL | bits);
  }
  unlock(v);
  atomic.store<u32>(v + H_ATTENTION, 1); // running: serve at the next boundary
}

/** shootdownPush for every vCPU of partition `p` but `except` (0 = none). */
export function shootdownPartition(p: usize, frame: u32, bits: u32, except: usize): void {
  const first = load<u32>(p, P_FIRST_VCPU);
  const n = load<u32>(p, P_NVCPUS);
  for (let i: u32 = 0; i < n; i++) {
    const v = vcpuAddr(first + i);
    if (v != except) shootdownPush(v, frame, bits);
  }
}

/** Drops the running vCPU's TLB entries (fetch, load and store) whose host page is `frame`. */
export function tlbDropFrame(frame: u32): void {
  const end = hart + H_TLB + TLB_SIZE;
  for (let e = hart + H_TLB; e < end; e += 16) {
    const tag = load<u64>(e);
    if (tag != 0 && ((<u32>tag & ~0xfff) + load<u32>(e, 8)) == frame) store<u64>(e, 0);
  }
}

/** Serves the list of the vCPU `hart` points at (its TLB must be ours: running here, or OWNER_SERVED). */
export function shootdownServe(): void {
  const v = hart;
  if (atomic.load<u32>(v + H_MM_REQ) == 0) return;
  lock(v);
  const req = load<u32>(v, H_MM_REQ);
  if (req & REQ_FLUSH_ALL) {
    tlbFlushAll();
  } else {
    // One pass over the TLB for all frames would be faster for long lists;
    // lists are short (a COW break pushes one frame).
    for (let i: u32 = 0; i < (req & REQ_COUNT); i++) tlbDropFrame(load<u32>(v + H_MM_FRAMES + (i << 2)));
  }
  atomic.store<u32>(v + H_MM_REQ, 0);
  unlock(v);
  if (req & REQ_SHADOW && load<u32>(<usize>load<u32>(v, H_PARTITION), P_FLAGS) & PF_SHADOW) shadowFlush();
}

/**
 * The vCPU this thread is inside run() of, 0 when none: a host callback
 * made from inside run() (a device access on the deterministic host, whose
 * devices are called synchronously) is that vCPU's instruction, and waits
 * as that vCPU (serving its own list), never for it.
 */
export let runningVcpu: usize = 0;

/** run() starts: the vCPU's TLB is its thread's until mmLeave (waits while another thread serves it). */
export function mmEnter(): void {
  while (atomic.cmpxchg<u32>(hart + H_MM_OWNER, OWNER_OFF, OWNER_RUNNING) != OWNER_OFF) {}
  runningVcpu = hart;
}

/** run() returns. */
export function mmLeave(): void {
  runningVcpu = 0;
  atomic.store<u32>(hart + H_MM_OWNER, OWNER_OFF);
}

/**
 * Waits until every vCPU of partition `p` has served its list: those off
 * their pCPU are served here. `self` (the calling vCPU, 0 for the host) is
 * served here too, and keeps being served while waiting so that two vCPUs
 * waiting for each other both progress.
 */
export function graceWait(p: usize, self: usize): void {
  if (!self) self = runningVcpu;
  const first = load<u32>(p, P_FIRST_VCPU);
  const n = load<u32>(p, P_NVCPUS);
  const saved = hart;
  for (let i: u32 = 0; i < n; i++) {
    const v = vcpuAddr(first + i);
    for (;;) {
      if (self) {
        setHart(self);
        shootdownServe();
      }
      if (v == self || atomic.load<u32>(v + H_MM_REQ) == 0) break;
      if (atomic.cmpxchg<u32>(v + H_MM_OWNER, OWNER_OFF, OWNER_SERVED) == OWNER_OFF) {
        setHart(v);
        shootdownServe();
        atomic.store<u32>(v + H_MM_OWNER, OWNER_OFF);
        break;
      }
      // Running on another thread: it serves at its next instruction boundary.
    }
  }
  setHart(saved);
}
