// Guest memory accesses: the TLB fast path (inline at every access site) and
// the slow path that walks, checks PMP, fills the TLB, splits misaligned
// accesses and falls through to MMIO.
import {
  hart, H_INSTRET, H_MSTATUS, H_PARTITION, H_PRIV, H_SATP, H_STAT_TLB_MISSES, H_TLB_CTX, H_TLB_CTX_SLOT,
} from '../cpu/hart';
import { Cause, MS_MPP, MS_MPP_SHIFT, MS_MPRV, MS_MXR, MS_SUM, PRIV_M } from '../cpu/defs';
import { excPending, raise, raiseNoMemory, requestExit } from '../cpu/exception';
import { gpaToHost, gpaToHostForStore, gpaPageWatched, NO_FRAME } from '../mm/gpa';
import { dirtyLogging } from '../mm/dirty';
import { jitFrameWritten } from '../jit/code';
import { P_TOHOST_GPA } from '../mm/partition';
import { mmioLoad, mmioStore, mmioValue, setMmioSplit } from '../platform/mmio';
import { pmpAllows } from './pmp';
import {
  ACC_FETCH, ACC_LOAD, ACC_STORE, KEY_UNRESOLVED, META_GLOBAL, TLB_SLOTS, dataKey, fetchKey, setKeys, tlbEntry, tlbFill,
  tlbKey, tlbRetagGlobal, tlbSlot,
} from './tlb';
import { accessFault, setMarkTables, translate, walkFault, walkLeaf, walkLevel } from './walk';
import {
  isPageTable, partitionShadowed, shadowActive, shadowAllows, shadowFill, shadowLookup, shadowMeta, shadowPerms,
  shadowWriteProtectFault,
} from './shadow';

const PTE_G: u64 = 1 << 5;

/** Effective privilege of loads and stores (MPRV-aware), per thread. */
export let dataPriv: u32 = PRIV_M;

/**
 * Recomputes the TLB keys and the data privilege from priv, mstatus and
 * satp (its MODE and ASID pick the address-space slot, mmu/tlb.ts).
 * Call after anything that changes priv, MPRV, MPP, SUM or MXR; after a
 * satp write, resolveKeys.
 *
 * No call on any path: satp's slot is taken from the cached one
 * (H_TLB_CTX_SLOT, set by tlbSlot); if satp changed behind our back (the
 * host, an SBI hart start), both keys are left unresolved — every access
 * misses — and the slow path resolves them. A call here, even a rare one,
 * cost the interpreter ~10% on bench cpu: run() starts with this, and V8
 * then keeps the loop's register-file pointer worse (measured).
 */
@inline export function updateKeys(): void {
  const priv = load<u32>(hart, H_PRIV);
  const ms = load<u64>(hart, H_MSTATUS);
  dataPriv = priv == PRIV_M && ms & MS_MPRV ? <u32>((ms & MS_MPP) >> MS_MPP_SHIFT) : priv;
  const satp = load<u64>(hart, H_SATP);
  let slot: u32 = 0;
  if (satp >> 60) {
    slot = load<u32>(hart, H_TLB_CTX_SLOT) & (TLB_SLOTS - 1);
    if (load<u32>(hart + H_TLB_CTX + (slot << 2)) != <u32>(satp >> 44)) slot = TLB_SLOTS;
  }
  if (slot == TLB_SLOTS) {
    setKeys(KEY_UNRESOLVED, KEY_UNRESOLVED);
  } else {
    const sum = (ms & MS_SUM) != 0;
    const mxr = (ms & MS_MXR) != 0;
    setKeys(tlbKey(priv, sum, mxr, slot), tlbKey(dataPriv, sum, mxr, slot));
  }
}

/** updateKeys, finding (or taking) satp's slot first. */
export function resolveKeys(): void {
  const satp = load<u64>(hart, H_SATP);
  if (satp >> 60) tlbSlot(<u32>(satp >> 44));
  updateKeys();
}

// ---- fast paths -------------------------------------------------------------

/**
 * instret at the start of the running slice; with the slice's count `n`
 * (passed to the fast paths) the slow path publishes the exact instret, so a
 * device reading the clock (icount mode) sees the current instruction.
 */
export let sliceBase: u64 = 0;
export function setSliceBase(v: u64): void {
  sliceBase = v;
}
@inline function publishInstret(n: u32): void {
  store<u64>(hart, sliceBase + <u64>n, H_INSTRET);
}

@inline export function ldFast<T>(va: u64, n: u32): T {
  const e = tlbEntry(ACC_LOAD, va);
  if (load<u64>(e) == ((va & (~<u64>0xfff | (sizeof<T>() - 1))) | dataKey)) {
    return load<T>(<usize>(<u32>va + load<u32>(e, 8)));
  }
  publishInstret(n);
  return <T>loadSlow(va, <u32>sizeof<T>());
}

@inline export function stFast<T>(va: u64, v: T, n: u32): void {
  const e = tlbEntry(ACC_STORE, va);
  if (load<u64>(e) == ((va & (~<u64>0xfff | (sizeof<T>() - 1))) | dataKey)) {
    store<T>(<usize>(<u32>va + load<u32>(e, 8)), v);
    return;
  }
  publishInstret(n);
  storeSlow(va, <u32>sizeof<T>(), <u64>v);
}

// ---- slow paths -------------------------------------------------------------

@inline function countMiss(): void {
  store<u64>(hart, load<u64>(hart, H_STAT_TLB_MISSES) + 1, H_STAT_TLB_MISSES);
}

/**
 * Translates one page-bounded access and returns its host address, filling
 * the TLB when the whole page may be cached; returns -1 for MMIO (with the
 * physical address in `slowPa`) and -2 after raising a fault.
 */
export let slowPa: u64 = 0;

/**
 * Guest-virtual to host for an access of `size` bytes within one page: the
 * shadow (shadow paging), else the guest walk, PMP and the second stage.
 * Returns the host address; -1 for MMIO (physical address in `slowPa`); -2
 * after raising a fault. `pageCacheable` tells whether the whole page may go
 * into the TLB for this access.
 */
let pageCacheable: bool = false;
/** With pageCacheable: the TLB entry meta (leaf level | G << 2) of the translation. */
let pageMeta: u32 = 0;

function guestToHost(va: u64, size: u32, acc: u32, priv: u32): i64 {
  const shadowPartition = partitionShadowed();
  const shadowed = shadowPartition && shadowActive(priv);
  if (shadowed) {
    const e = shadowLookup(va);
    // While the partition logs dirty pages, a store never takes the shadow's
    // word for it: the walk below finds the guest-physical page to mark
    // (mm/dirty.ts), and the store TLB caches the result as usual.
    if (shadowAllows(e, acc, priv) && !(acc == ACC_STORE && dirtyLogging(<usize>load<u32>(hart, H_PARTITION)))) {
      pageCacheable = true; // the watched page is never shadowed
      pageMeta = shadowMeta(e);
      return <i64>((e >> 32) | (va & 0xfff));
    }
  }
  setMarkTables(shadowed);
  const pa = translate(va, acc, priv);
  setMarkTables(false);
  if (walkFault) {
    raise(walkFault, va);
    return -2;
  }
  if (!pmpAllows(pa, size, acc, priv)) {
    raise(accessFault(acc), va);
    return -2;
  }
  // A store's translation marks the page dirty (and is what the store TLB caches).
  const host = acc == ACC_STORE ? gpaToHostForStore(pa) : gpaToHost(pa);
  if (host == NO_FRAME) {
    raiseNoMemory(pa); // the pool is empty: the root reclaims, then the store runs again
    return -2;
  }
  if (host == -2) return -2; // swapped out: the exit to the root is raised (mm/swap.ts swapFault)
  if (host < 0) {
    slowPa = pa;
    return -1;
  }
  const page = pa & ~<u64>0xfff;
  pageCacheable = pmpAllows(page, 4096, acc, priv) && !(acc == ACC_STORE && gpaPageWatched(page));
  pageMeta = walkLevel | (walkLeaf & PTE_G ? META_GLOBAL : 0);
  if (shadowPartition) {
    // A store into a page-table page, at any privilege (M-mode firmware edits
    // page tables through physical addresses): drop what the shadows derived
    // from it first, and never let the store TLB skip this check.
    const pt = isPageTable(page);
    if (acc == ACC_STORE && pt) {
      shadowWriteProtectFault();
      pageCacheable = false;
    }
    if (shadowed && pageCacheable && !gpaPageWatched(page)) {
      shadowFill(va, <u32>host, shadowPerms(walkLeaf, page, priv, pt), walkLevel);
    }
  }
  return host;
}

/** Translates one page-bounded data access and fills the TLB when it may. */
function translateData(va: u64, size: u32, acc: u32, priv: u32, key: u64): i64 {
  if (key & KEY_UNRESOLVED) {
    resolveKeys();
    key = dataKey;
    const e = tlbEntry(acc, va);
    if (load<u64>(e) == ((va & ~<u64>0xfff) | key)) return <i64>(<u32>va + load<u32>(e, 8));
  }
  countMiss();
  if (tlbRetagGlobal(acc, va, key)) return <i64>(<u32>va + load<u32>(tlbEntry(acc, va), 8));
  const host = guestToHost(va, size, acc, priv);
  if (host >= 0 && pageCacheable) tlbFill(acc, va, key, <u32>host & ~0xfff, pageMeta);
  return host;
}

/** Loads `size` bytes, zero-extended; raises and returns 0 on a fault. */
export function loadSlow(va: u64, size: u32): u64 {
  if (va & (size - 1)) return loadMisaligned(va, size);
  const host = translateData(va, size, ACC_LOAD, dataPriv, dataKey);
  if (host >= 0) {
    if (size == 1) return load<u8>(<usize>host);
    if (size == 2) return load<u16>(<usize>host);
    if (size == 4) return load<u32>(<usize>host);
    return load<u64>(<usize>host);
  }
  if (host == -1) {
    if (mmioLoad(slowPa, size)) return mmioValue;
    raise(Cause.LOAD_ACCESS, va);
  }
  return 0;
}

/** A misaligned load, byte by byte (the spec lets us emulate these). */
function loadMisaligned(va: u64, size: u32): u64 {
  let v: u64 = 0;
  setMmioSplit(true);
  for (let i: u32 = 0; i < size; i++) {
    const b = loadSlow(va + i, 1);
    if (excPending) break;
    v |= b << (<u64>i * 8);
  }
  setMmioSplit(false);
  return excPending ? 0 : v;
}

export function storeSlow(va: u64, size: u32, value: u64): void {
  if (va & (size - 1)) {
    storeMisaligned(va, size, value);
    return;
  }
  const host = translateData(va, size, ACC_STORE, dataPriv, dataKey);
  if (host >= 0) {
    if (size == 1) store<u8>(<usize>host, <u8>value);
    else if (size == 2) store<u16>(<usize>host, <u16>value);
    else if (size == 4) store<u32>(<usize>host, <u32>value);
    else store<u64>(<usize>host, value);
    jitFrameWritten(<u32>host);
    checkWatch(va, size);
    return;
  }
  if (host == -1 && !mmioStore(slowPa, size, value)) raise(Cause.STORE_ACCESS, va);
}

/**
 * A misaligned store: translate every byte first so that a fault on the
 * second page leaves memory untouched, then write.
 */
function storeMisaligned(va: u64, size: u32, value: u64): void {
  for (let i: u32 = 0; i < size; i++) {
    if (probeStore(va + i) < -1) return;
  }
  setMmioSplit(true);
  for (let i: u32 = 0; i < size; i++) storeSlow(va + i, 1, (value >> (<u64>i * 8)) & 0xff);
  setMmioSplit(false);
}

/** Host address for a store of one byte, -1 for MMIO, -2 after a fault. */
function probeStore(va: u64): i64 {
  return translateData(va, 1, ACC_STORE, dataPriv, dataKey);
}

/** HTIF: a store that touches tohost hands control to the host. */
function checkWatch(va: u64, size: u32): void {
  const p = <usize>load<u32>(hart, H_PARTITION);
  const tohost = load<u64>(p, P_TOHOST_GPA);
  if (tohost == 0) return;
  const pa = translate(va, ACC_STORE, dataPriv);
  if (pa + size > tohost && pa < tohost + 8) requestExit();
}

/**
 * Host address for an AMO or LR/SC: must be naturally aligned RAM with write
 * permission (LR asks for read). Raises and returns -1 otherwise.
 */
export function amoAddress(va: u64, size: u32, acc: u32): i64 {
  if (va & (size - 1)) {
    raise(acc == ACC_LOAD ? Cause.LOAD_MISALIGNED : Cause.STORE_MISALIGNED, va);
    return -1;
  }
  const e = tlbEntry(acc, va);
  if (load<u64>(e) == ((va & ~<u64>0xfff) | dataKey)) return <i64>(<u32>va + load<u32>(e, 8));
  const host = translateData(va, size, acc, dataPriv, dataKey);
  if (host == -1) raise(acc == ACC_LOAD ? Cause.LOAD_ACCESS : Cause.STORE_ACCESS, va);
  if (host < 0) return -1;
  if (acc == ACC_STORE) {
    jitFrameWritten(<u32>host);
    checkWatch(va, size);
  }
  return host;
}

// ---- instruction fetch --------------------------------------------------------

/** After fetchSlow: the page the interpreter may fetch from directly (1 = none). */
export let fetchPage: u64 = 1;
export let fetchAddend: u32 = 0;

/** Host address of the halfword at `va` for fetch, or -1 after raising. */
function fetchHost(va: u64): i64 {
  const e = tlbEntry(ACC_FETCH, va);
  if (load<u64>(e) == ((va & ~<u64>0xfff) | fetchKey)) return <i64>(<u32>va + load<u32>(e, 8));
  if (fetchKey & KEY_UNRESOLVED) {
    resolveKeys();
    if (load<u64>(e) == ((va & ~<u64>0xfff) | fetchKey)) return <i64>(<u32>va + load<u32>(e, 8));
  }
  countMiss();
  if (tlbRetagGlobal(ACC_FETCH, va, fetchKey)) return <i64>(<u32>va + load<u32>(e, 8));
  const host = guestToHost(va, 2, ACC_FETCH, load<u32>(hart, H_PRIV));
  if (host == -1) raise(Cause.INSN_ACCESS, va); // no fetching from devices
  if (host < 0) return -1;
  if (pageCacheable) tlbFill(ACC_FETCH, va, fetchKey, <u32>host & ~0xfff, pageMeta);
  return host;
}

/**
 * Fetches the instruction at `pc` (16 or 32 bits, low bits tell) through the
 * fetch TLB, handling a 32-bit instruction that straddles two pages.
 */
export function fetchSlow(pc: u64): u32 {
  fetchPage = 1;
  const lo = fetchHost(pc);
  if (lo < 0) return 0;
  let insn = <u32>load<u16>(<usize>lo);
  if ((insn & 3) == 3) {
    if ((pc & 0xfff) == 0xffe) {
      const hi = fetchHost(pc + 2);
      if (hi < 0) return 0;
      insn |= <u32>load<u16>(<usize>hi) << 16;
      return insn;
    }
    insn |= <u32>load<u16>(<usize>lo + 2) << 16;
  }
  const e = tlbEntry(ACC_FETCH, pc);
  if (load<u64>(e) == ((pc & ~<u64>0xfff) | fetchKey)) {
    fetchPage = pc & ~<u64>0xfff;
    fetchAddend = load<u32>(e, 8);
  }
  return insn;
}
