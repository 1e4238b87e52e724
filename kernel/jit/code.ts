// Which host frames hold translated guest code, and their write generation.
//
// One u32 per host frame, shared by every thread: bit 0 = translations may
// exist for the frame (stores to it must take the slow path), bits 31:1 =
// a generation bumped by every write that reaches the frame while bit 0 is
// set. A translation records the generation it was made from and is used
// only while the word still holds it, so a write from any vCPU, a device
// (DMA, runtime/jit/code-watch.ts) or the kernel itself (SBI calls, A/D
// updates) drops it, on every thread, without telling anyone.
//
// The store TLB never caches a frame whose bit is set (mmu/tlb.ts tlbFill),
// so every guest store to code reaches storeSlow and bumps the word there;
// when a frame becomes code, every vCPU of the partition drops its TLB
// entries of it (mm/shootdown.ts) at its next instruction boundary. A store
// through an entry a vCPU still holds until then is a cross-modifying write
// without synchronisation, which the ISA does not promise to see before the
// executing hart's fence.i; fence.i drops all of its thread's translations.
import { JIT_STATE } from '../layout';
import { framesAllocContiguous } from '../mm/frames';

/** JIT_STATE fields (hypervisor globals, 64 bytes). */
export const JS_GEN: u32 = 0; // u32 host address of the generation array; 0 not set up, 1 being set up, 2 none
export const JS_FRAMES: u32 = 4; // u32 frames it covers (from host address 0)
export const JS_COMPILED: u32 = 8; // u64 regions compiled (all threads)
export const JS_COMPILE_US: u32 = 16; // u64 microseconds spent compiling
export const JS_BYTES: u32 = 24; // u64 wasm bytes generated
export const JS_INVALIDATIONS: u32 = 32; // u64 translations found stale (their frame was written)
export const JS_FLUSHES: u32 = 40; // u64 fence.i flushes of a thread's translations
export const JS_ENTRIES: u32 = 48; // u64 entries into translated code } not atomic: exact on one
export const JS_INSNS: u32 = 56; // u64 instructions retired in it     } thread, approximate on several

@inline function genWord(host: u32): usize {
  // The array's address is published after its size (jitCodeInit): read it first.
  const a = atomic.load<u32>(JIT_STATE + JS_GEN);
  const frame = host >> 12;
  if (a <= 2 || frame >= load<u32>(JIT_STATE, JS_FRAMES)) return 0;
  return <usize>a + (<usize>frame << 2);
}

/**
 * Sets up the generation array for host memory of `pages` 64 KiB pages,
 * from the frame pool; once per host, whichever thread comes first (the
 * others wait for it). Returns 0 when the pool has no room.
 */
export function jitCodeInit(pages: u32): u32 {
  const g = JIT_STATE + JS_GEN;
  if (atomic.cmpxchg<u32>(g, 0, 1) == 0) {
    const frames = pages << 4;
    const a = framesAllocContiguous((frames * 4 + 4095) >> 12, 4096);
    store<u32>(JIT_STATE, a ? frames : 0, JS_FRAMES);
    atomic.store<u32>(g, a ? a : 2); // 2: set up, without an array
  }
  let a: u32;
  while ((a = atomic.load<u32>(g)) == 1) {} // another thread is setting it up
  return a > 2 ? 1 : 0;
}

/** True if translations may exist for the host frame holding `host`: stores there must not be cached. */
@inline export function jitCodeFrame(host: u32): bool {
  const w = genWord(host);
  return w != 0 && (atomic.load<u32>(w) & 1) != 0;
}

/** A write reached host address `host`: if its frame holds code, its translations become stale. */
export function jitFrameWritten(host: u32): void {
  const w = genWord(host);
  if (!w) return;
  for (;;) {
    const old = atomic.load<u32>(w);
    if (!(old & 1)) return;
    if (atomic.cmpxchg<u32>(w, old, (old + 2) & ~1) == old) return;
  }
}

/** jitFrameWritten for every frame of [host, host + len) (host-side writes). */
export function jitRangeWritten(host: u32, len: u32): void {
  if (!len) return;
  for (let f = host & ~0xfff; ; f += 4096) {
    jitFrameWritten(f);
    if (f >= ((host + len - 1) & ~0xfff)) break;
  }
}

/**
 * The frame at `host` is about to be translated: sets its code bit and
 * returns the address of its generation word (0 = beyond the array: do not
 * translate). `wasCode` tells whether it was already code.
 */
export let jitWasCode: bool = false;
export function jitMarkCode(host: u32): usize {
  const w = genWord(host);
  if (!w) return 0;
  const old = atomic.or<u32>(w, 1);
  jitWasCode = (old & 1) != 0;
  return w;
}
