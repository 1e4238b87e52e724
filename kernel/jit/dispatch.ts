// Entering translated code from the interpreter (cpu/exec.ts).
//
// The interpreter calls jitEnter at every taken control transfer (the start
// of a basic block). Per thread, a direct-mapped table of block entries,
// keyed by (guest-virtual pc, host frame of its code), counts executions;
// at the threshold the host is asked to translate the region starting there
// (runtime/jit/translate.ts, through the `jitCompile` import) into a wasm
// function in this instance's function table, at index tableBase + slot.
// It may do so at once (--jit always) or queue the request (--jit on: the
// entry is pending and the interpreter goes on running that code until the
// host compiles a batch and installs it with jitInstall). Translated and
// interpreted code retire the same instructions with the same effects, so
// when a translation arrives changes speed only, never counts or output.
// Later entries are one call_indirect, no JS on the way. The slot is the
// translation's identity, so a table of SLOTS entries is also the cap on
// live translations: a newcomer that keeps missing on a slot takes it over
// (the old function is overwritten in the table and collected).
//
// A translation runs with the guest registers in wasm locals and returns
// the instructions it retired (bit 31: it left at a jump's target, which
// jitEnter follows into the next translation without the interpreter); its exit pc is in the hart block (H_PC, which
// run() rewrites when it returns anyway). It stops before the budget would
// be exceeded, when the vCPU's attention word is set (at a block start),
// and before any instruction it does not translate or whose TLB lookup
// misses — the interpreter then executes that one instruction, so traps,
// MMIO and every slow path stay in one place and are precise.
import { hart, H_ATTENTION, H_PARTITION, H_PC, H_STAT_JIT_INSNS, H_TLB } from '../cpu/hart';
import { JIT_STATE } from '../layout';
import { framesAllocContiguous } from '../mm/frames';
import { P_NVCPUS } from '../mm/partition';
import { shootdownPartition } from '../mm/shootdown';
import { ACC_FETCH, ACC_STORE, TLB_ENTRIES, TLB_TABLE_SIZE, dataKey, fetchKey, tlbEntry } from '../mmu/tlb';
import { JS_ENTRIES, JS_FLUSHES, JS_INSNS, JS_INVALIDATIONS, jitCodeInit, jitMarkCode, jitWasCode } from './code';

@external('env', 'jitCompile')
declare function hostJitCompile(slot: u32, pc: u64, host: u32, ticket: u32, now: u32): u32;
/** The host installs what it has compiled meanwhile (runtime/jit/tier.ts poll). */
@external('env', 'jitPoll')
declare function hostJitPoll(): void;
/** hostJitCompile's answers. */
const COMPILE_NONE: u32 = 0; // its first instruction is not translated
const COMPILE_READY: u32 = 1; // in the table now
// 2: queued; the host calls jitInstall when it is compiled (never when `now`)

/** Off, on (translate hot code), always (translate at first execution). */
export const JIT_OFF: u32 = 0;
export const JIT_ON: u32 = 1;
export const JIT_ALWAYS: u32 = 2;

/** Per-thread: the mode; run() tests it at every taken branch. */
export let jitMode: u32 = JIT_OFF;
/** Block entries before a region is translated (JIT_ON). */
let threshold: u32 = 0;
/** Index of slot 0's function in this instance's table. */
let tableBase: u32 = 0;
/** This thread's entry table (host address), SLOTS x ENTRY bytes. */
let table: usize = 0;
/** The pc translated code stopped at (valid after jitEnter). */
export let jitPc: u64 = 0;

const SLOTS_LOG2: u32 = 12;
export const JIT_SLOTS: u32 = 1 << SLOTS_LOG2;
const ENTRY: u32 = 32;
// Entry fields.
const E_PC: u32 = 0; // u64 guest-virtual pc of the region's first instruction
const E_FRAME: u32 = 8; // u32 host address of the frame holding it
const E_STATE: u32 = 12; // u32 ST_*
const E_COUNT: u32 = 16; // u32 entries counted while ST_COUNT
const E_GEN_ADDR: u32 = 20; // u32 the frame's generation word (jit/code.ts)
const E_GEN: u32 = 24; // u32 its value when translated
const E_MISSES: u32 = 28; // u32 other keys that hit this slot since it was translated (ST_READY)
const E_TICKET: u32 = 28; // u32 while ST_PENDING: the number of the request it waits for

const ST_COUNT: u32 = 0;
const ST_READY: u32 = 1;
const ST_NEVER: u32 = 2; // its first instruction is not translated: stay in the interpreter
const ST_PENDING: u32 = 3; // asked for, not compiled yet: interpreted meanwhile (and evictable)
/** Misses by other keys before a translated slot is given up. */
const EVICT_AFTER: u32 = 64;

/**
 * Sets this thread's mode (JIT_*); `base` is the first free index of the
 * instance's function table, where the host puts translations. The tables
 * come from the frame pool at the first entry (the pool may not be set up
 * yet when a pCPU thread starts); without frames the mode goes back off.
 */
export function jitSetMode(mode: u32, hot: u32, base: u32): void {
  jitMode = mode;
  threshold = mode == JIT_ALWAYS ? 1 : hot;
  tableBase = base;
}

/** The entry table and the shared generation array; false (and the JIT off) when the pool has no room. */
function setUp(): bool {
  if (jitCodeInit(<u32>memory.size())) table = framesAllocContiguous((JIT_SLOTS * ENTRY) >> 12, 4096);
  if (!table) jitMode = JIT_OFF;
  return table != 0;
}

/**
 * fence.i on this thread: every translation here is dropped (re-made from
 * memory when hot again). Not needed when the running vCPU is its
 * partition's only one: then every write to its code already bumped the
 * frame's generation (its own stores never hit a cached store entry for a
 * code frame, device and kernel writes bump it too: code.ts), so a stale
 * translation cannot run. Only a vCPU of the same partition still running
 * on a store TLB entry from before the frame became code (until its next
 * attention check) can write code unseen, and the flush covers that.
 * Linux executes fence.i hundreds of times in a boot: each flush costs
 * every hot region a new compile.
 */
export function jitFlush(): void {
  if (!table) return;
  if (load<u32>(<usize>load<u32>(hart, H_PARTITION), P_NVCPUS) <= 1) return;
  memory.fill(table, 0, JIT_SLOTS * ENTRY);
  bump64(JIT_STATE + JS_FLUSHES, 1);
}

@inline function bump64(a: usize, by: u64): void {
  store<u64>(a, load<u64>(a) + by);
}

@inline function slotOf(pc: u64): u32 {
  const p = <u32>(pc >> 1);
  return (p ^ (p >> SLOTS_LOG2) ^ <u32>(pc >> 32)) & (JIT_SLOTS - 1);
}

/** A translation's result: bit 31 set = it left at a control transfer's target (chain on). */
const CHAINED: u32 = 0x8000_0000;

/**
 * The interpreter reached `pc` by a taken branch with `n` of `budget` steps
 * done: runs translated code from there if there is (or now is) some.
 * Returns the new step count; the pc to go on from is in jitPc.
 *
 * A region that leaves through a jump (JALR, a branch out of its page, its
 * size limit) is followed here by the region at the target, without going
 * back to the interpreter: returns and indirect jumps (switch tables) cost a
 * table lookup rather than interpreted instructions up to the next taken
 * branch. Each hop returns to this loop, so V8 swaps in optimised code for
 * a hot region (it has no on-stack replacement). Exits before an
 * instruction the region does not translate, at the budget or when the
 * vCPU's attention is wanted go back to the interpreter.
 */
export function jitEnter(pc: u64, n: u32, budget: u32): u32 {
  jitPc = pc;
  if (!table && !setUp()) return n;
  while (n < budget && enterable(pc)) {
    bump64(JIT_STATE + JS_ENTRIES, 1);
    const r = call_indirect<u32>(tableBase + enterSlot, hart, budget - n, dataKey);
    const k = r & ~CHAINED;
    bump64(hart + H_STAT_JIT_INSNS, k);
    bump64(JIT_STATE + JS_INSNS, k);
    pc = load<u64>(hart, H_PC);
    jitPc = pc;
    n += k;
    if (!(r & CHAINED) || load<u32>(hart, H_ATTENTION) != 0) break;
  }
  return n;
}

/** The slot enterable() found. */
let enterSlot: u32 = 0;
/** Entries at pending regions, and how many between two polls of the host (a power of two). */
let pendingHits: u32 = 0;
const POLL_EVERY: u32 = 1024;
/** Entries at a pending region after which it is compiled at once (≈ms of interpreting it). */
const URGENT_AFTER: u32 = 16384;

/** Counts an entry at `pc`; true (slot in enterSlot) if a translation is ready to run there. */
function enterable(pc: u64): bool {
  const fe = tlbEntry(ACC_FETCH, pc);
  // Only through a fetch TLB hit: it says the page may be executed now, at
  // this privilege and address space; the interpreter fills it otherwise.
  if (load<u64>(fe) != ((pc & ~<u64>0xfff) | fetchKey)) return false;
  const frame = (<u32>pc + load<u32>(fe, 8)) & ~0xfff;
  const slot = slotOf(pc);
  enterSlot = slot;
  const e = table + slot * ENTRY;
  let state = load<u32>(e, E_STATE);
  if (load<u64>(e, E_PC) != pc || load<u32>(e, E_FRAME) != frame) {
    if (state == ST_READY) {
      const m = load<u32>(e, E_MISSES) + 1;
      store<u32>(e, m, E_MISSES);
      if (m < EVICT_AFTER) return false;
    }
    store<u64>(e, pc, E_PC);
    store<u32>(e, frame, E_FRAME);
    store<u32>(e, 0, E_COUNT);
    store<u32>(e, 0, E_MISSES);
    state = ST_COUNT;
    store<u32>(e, state, E_STATE);
  }
  if (state == ST_READY) {
    if (atomic.load<u32>(<usize>load<u32>(e, E_GEN_ADDR)) == load<u32>(e, E_GEN)) return true;
    bump64(JIT_STATE + JS_INVALIDATIONS, 1); // its frame was written: translate again once hot
    store<u32>(e, 0, E_COUNT);
    state = ST_COUNT;
    store<u32>(e, state, E_STATE);
  }
  if (state == ST_PENDING) {
    // Hot code waiting for its translation: every so often let the host
    // install what it compiled meanwhile (the host's own loop polls only
    // between runs, which can be a scheduler tick or more apart). Code that
    // stays this hot while it waits (a CPU-bound loop, entered millions of
    // times a second) is worth a stall: it is compiled now, on this thread.
    const c = load<u32>(e, E_COUNT) + 1;
    store<u32>(e, c, E_COUNT);
    if (c - threshold >= URGENT_AFTER) return translate(e, slot, pc, frame, 1);
    if ((++pendingHits & (POLL_EVERY - 1)) == 0) hostJitPoll();
    return false;
  }
  if (state != ST_COUNT) return false; // ST_NEVER
  const c = load<u32>(e, E_COUNT) + 1;
  store<u32>(e, c, E_COUNT);
  return c >= threshold && translate(e, slot, pc, frame, 0);
}

/**
 * Asks for the region at `pc` in slot `slot` (at once if `now`); true if
 * it is ready to run now.
 */
function translate(e: usize, slot: u32, pc: u64, frame: u32, now: u32): bool {
  const w = jitMarkCode(frame);
  if (!w) {
    store<u32>(e, ST_NEVER, E_STATE);
    return false;
  }
  if (!jitWasCode) {
    // The frame just became code: no vCPU may keep a store TLB entry for it
    // (each drops its entries of the frame at its next boundary; this one too,
    // right now, before the translation can run).
    // Shadow tables may map it writable: harmless, as the store TLB is only
    // filled through tlbFill, which refuses code frames.
    shootdownPartition(<usize>load<u32>(hart, H_PARTITION), frame, 0, hart);
    dropStores(frame);
  }
  // Read before the code (now or when a queued request is translated): a
  // write from now on makes this translation stale.
  store<u32>(e, <u32>w, E_GEN_ADDR);
  store<u32>(e, atomic.load<u32>(w), E_GEN);
  const ticket = ++tickets;
  store<u32>(e, ticket, E_TICKET);
  const r = hostJitCompile(slot, pc, frame, ticket, now);
  const state = r == COMPILE_NONE ? ST_NEVER : r == COMPILE_READY ? ST_READY : ST_PENDING;
  if (state != ST_PENDING) store<u32>(e, 0, E_MISSES);
  store<u32>(e, state, E_STATE);
  return state == ST_READY;
}

/** Requests made by this thread: each pending entry waits for its own (jitInstall). */
let tickets: u32 = 0;

/**
 * The host compiled request `ticket` for (pc, frame) in `slot`: true if the
 * entry still waits for that request (then it is ready to run once the host has put
 * the function in the table, or never translated if `ok` is false). False
 * if the slot went to another region or a fence.i dropped it meanwhile: the
 * host must then leave the table alone.
 */
export function jitInstall(slot: u32, pc: u64, frame: u32, ticket: u32, ok: u32): bool {
  if (!table || slot >= JIT_SLOTS) return false;
  const e = table + slot * ENTRY;
  if (load<u32>(e, E_STATE) != ST_PENDING || load<u64>(e, E_PC) != pc || load<u32>(e, E_FRAME) != frame) return false;
  // The same region asked for again (after its slot was taken and given
  // back, or a fence.i flush) waits for the newer request: an older one's
  // code may predate a write the entry's generation already counts.
  if (load<u32>(e, E_TICKET) != ticket) return false;
  store<u32>(e, 0, E_MISSES);
  store<u32>(e, ok ? ST_READY : ST_NEVER, E_STATE);
  return ok != 0;
}

/** Drops the running vCPU's store TLB entries of host frame `frame`. */
function dropStores(frame: u32): void {
  const base = hart + H_TLB + ACC_STORE * TLB_TABLE_SIZE;
  for (let i: u32 = 0; i < TLB_ENTRIES; i++) {
    const e = base + (i << 4);
    const tag = load<u64>(e);
    if (tag != 0 && ((<u32>tag & ~0xfff) + load<u32>(e, 8)) == frame) store<u64>(e, 0);
  }
}
