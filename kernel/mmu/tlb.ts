// The software TLB: per vCPU, split by access type (fetch | load | store),
// direct-mapped, 256 entries each, 16 bytes an entry, 4 KiB granules.
//
//   entry:  +0  tag    u64   (virtual page) | key     — 0 = invalid
//           +8  addend u32   host address = u32(vaddr) + addend  (mod 2^32)
//           +12 meta   u32   leaf level (0 4 KiB .. 3 512 GiB) | G << 2
//
// The key (tag bits 11:3) holds everything besides the page that decides
// the outcome of a translation:
//
//   bits 4:3   privilege code: 1 U, 2 S, 3 M (never 0, so a valid tag is never 0)
//   bit  5     mstatus.SUM     } only in translated keys (slot != 0);
//   bit  6     mstatus.MXR     } untranslated ones hold 0 here
//   bits 11:7  address-space slot: 0 = untranslated (effective privilege M,
//              or satp.MODE = Bare), 1..31 = one (satp.MODE, satp.ASID) each
//
// So a trap from U to S, an MPRV toggle, and a satp write that switches
// address space need no flush: the key changes and entries made under the
// other key simply stop matching. satp.ASID is 16 bits; each vCPU maps the
// (MODE, ASID) pairs it uses onto 31 slots (H_TLB_CTX in its block), as x86
// Linux maps its ASIDs onto a handful of PCIDs: a pair seen for the first
// time takes a free slot, or recycles one (round robin) after dropping that
// slot's entries. Bare and M-mode share slot 0 and are never recycled, so
// bare <-> Sv39 switches and M-mode (with or without MPRV) keep their
// entries too. The pair, not the ASID alone, names a slot: Sv39 and Sv48
// with the same ASID never share entries. The index is still VA bits 19:12
// alone: address spaces using the same VAs share (and evict) the same
// entries, so what a switch keeps is what the other spaces did not touch.
//
// A satp write finds or takes its slot (access.ts resolveKeys) and
// H_TLB_CTX_SLOT caches it, so recomputing the keys on a trap or xRET
// (updateKeys) takes no call; when satp no longer matches the cached slot
// (the host rewrote it), the keys become KEY_UNRESOLVED, which no tag
// matches, and the first slow path resolves them.
//
// A lookup for an n-byte access compares (vaddr & (~0xfff | (n-1))) | key
// against the tag: a misaligned address keeps low bits the tag never has and
// falls to the slow path, which splits it. So the common access is one
// compare plus one wasm load — the ASID costs nothing on a hit — and a JIT
// can emit the same sequence inline.
//
// Global mappings (PTE.G). One compare cannot match several slots, so a
// global entry is filled under the current slot like any other, with G in
// its meta. On a miss, before walking, the slow path looks at the entry the
// access indexed: the same page and key but another slot (of the same MODE),
// and G set — then the entry is re-tagged to the current slot and used, no
// walk (tlbRetagGlobal). Globals thus follow the running address space at
// the cost of one slow-path call per page after a switch, and the hit path
// keeps its single compare. An ASID-specific sfence.vma keeps G entries
// (the spec exempts them); a fence for all ASIDs drops them.
//
// sfence.vma (tlbFence), privileged spec 1.12, 4.2.1:
//   rs1 = x0, rs2 = x0   whole flush (tlbFlushAll; counted in H_STAT_TLB_FLUSHES)
//   rs1 = x0, rs2 = asid every non-global entry of the slots with that ASID
//   rs1 = va, rs2 = x0   va's leaf in every slot
//   rs1 = va, rs2 = asid va's leaf in the slots with that ASID, globals kept
// Untranslated entries (slot 0) are never touched by a fence. A by-address
// fence must invalidate every cache entry holding the leaf PTE of va (spec:
// "entries that contain leaf page table entries corresponding to the
// virtual address"); for a superpage that leaf made many of our 4 KiB
// granules, at other indices. Each fill from a superpage widens a per-vCPU
// interval [H_TLB_SP_LO, H_TLB_SP_HI] of the VAs its superpage covers; a
// fence outside it drops the (at most 3) entries of va's page, a fence
// inside scans the 768 entries and drops each whose own leaf (meta level)
// covers va. A whole flush empties the interval. Those precise operations
// are counted in H_STAT_TLB_INVALS. PMP changes and host-side changes
// (G-stage, shadow write protection) still flush everything.
import {
  hart, H_STAT_TLB_FLUSHES, H_STAT_TLB_INVALS, H_TLB, H_TLB_CTX, H_TLB_CTX_NEXT, H_TLB_CTX_SLOT, H_TLB_SP_HI,
  H_TLB_SP_LO,
} from '../cpu/hart';
import { PRIV_M } from '../cpu/defs';
import { jitCodeFrame } from '../jit/code';

export const ACC_FETCH: u32 = 0;
export const ACC_LOAD: u32 = 1;
export const ACC_STORE: u32 = 2;

export const TLB_ENTRIES_LOG2: u32 = 8;
export const TLB_ENTRIES: u32 = 1 << TLB_ENTRIES_LOG2;
export const TLB_TABLE_SIZE: u32 = TLB_ENTRIES * 16;
export const TLB_SIZE: u32 = 3 * TLB_TABLE_SIZE;

/** Key fields, in tag position. */
const KEY_SUM: u64 = 1 << 5;
const KEY_MXR: u64 = 1 << 6;
const SLOT_SHIFT: u64 = 7;
const TAG_SLOT: u64 = 31 << SLOT_SHIFT;
/** Address-space slots per vCPU (slot 0 = untranslated). */
export const TLB_SLOTS: u32 = 32;

/**
 * A key no tag ever has (tags keep bits 2:0 clear): every lookup misses, and
 * the slow path resolves the keys first (access.ts updateKeys).
 */
export const KEY_UNRESOLVED: u64 = 1;

/** Entry meta (+12). */
export const META_LEVEL: u32 = 3;
export const META_GLOBAL: u32 = 4;

/** Current TLB keys, in tag position (per-thread globals). */
export let fetchKey: u64 = 3 << 3;
export let dataKey: u64 = 3 << 3;

export function setKeys(fetch: u64, data: u64): void {
  fetchKey = fetch;
  dataKey = data;
}

/**
 * The key (in tag position) of accesses at effective privilege `priv` in
 * address-space slot `slot` (0 = untranslated), with mstatus `sum`/`mxr`.
 */
@inline export function tlbKey(priv: u32, sum: bool, mxr: bool, slot: u32): u64 {
  if (priv == PRIV_M) return 3 << 3;
  const p = <u64>(priv + 1) << 3;
  if (!slot) return p;
  return p | (sum ? KEY_SUM : 0) | (mxr ? KEY_MXR : 0) | (<u64>slot << SLOT_SHIFT);
}

@inline function bump(off: u32): void {
  store<u64>(hart + off, load<u64>(hart + off) + 1);
}

@inline function slotCtx(slot: u32): u32 {
  return load<u32>(hart + H_TLB_CTX + (slot << 2));
}

/**
 * The slot of address space `ctx` = satp[63:44] (MODE | ASID, MODE != Bare),
 * taking a free one or recycling one on first use.
 */
export function tlbSlot(ctx: u32): u32 {
  const hint = load<u32>(hart, H_TLB_CTX_SLOT) & (TLB_SLOTS - 1);
  if (slotCtx(hint) == ctx) return hint; // slot 0's word stays 0, never a ctx
  let free: u32 = 0;
  for (let s: u32 = 1; s < TLB_SLOTS; s++) {
    const c = slotCtx(s);
    if (c == ctx) {
      store<u32>(hart, s, H_TLB_CTX_SLOT);
      return s;
    }
    if (!c && !free) free = s;
  }
  let s = free;
  if (!s) {
    s = load<u32>(hart, H_TLB_CTX_NEXT);
    if (s == 0 || s >= TLB_SLOTS) s = 1;
    store<u32>(hart, s + 1 < TLB_SLOTS ? s + 1 : 1, H_TLB_CTX_NEXT);
    scan(<u32>1 << s, 0, false, false);
    bump(H_STAT_TLB_INVALS);
  }
  store<u32>(hart + H_TLB_CTX + (s << 2), ctx);
  store<u32>(hart, s, H_TLB_CTX_SLOT);
  return s;
}

@inline export function tlbEntry(acc: u32, vaddr: u64): usize {
  return hart + H_TLB + acc * TLB_TABLE_SIZE + ((<usize>(vaddr >> 12) & (TLB_ENTRIES - 1)) << 4);
}

/**
 * Caches vpage -> host page for `acc` under `key` (in tag position); `meta`
 * is the leaf's level | G << 2 (0 for untranslated accesses).
 */
@inline export function tlbFill(acc: u32, vaddr: u64, key: u64, hostPage: u32, meta: u32): void {
  // Stores to a frame holding translated code must reach the slow path,
  // which makes the translations stale (jit/code.ts).
  if (acc == ACC_STORE && jitCodeFrame(hostPage)) return;
  const e = tlbEntry(acc, vaddr);
  store<u64>(e, (vaddr & ~<u64>0xfff) | key);
  store<u32>(e, hostPage - <u32>(vaddr & ~<u64>0xfff), 8);
  store<u32>(e, meta, 12);
  const level = meta & META_LEVEL;
  if (level) {
    // The VAs this superpage covers: a by-address fence in there must scan.
    const size = <u64>1 << (12 + 9 * <u64>level);
    const base = vaddr & ~(size - 1);
    const lo = load<u64>(hart, H_TLB_SP_LO);
    const hi = load<u64>(hart, H_TLB_SP_HI);
    if (lo > hi) {
      store<u64>(hart, base, H_TLB_SP_LO);
      store<u64>(hart, base + (size - 1), H_TLB_SP_HI);
    } else {
      if (base < lo) store<u64>(hart, base, H_TLB_SP_LO);
      if (base + (size - 1) > hi) store<u64>(hart, base + (size - 1), H_TLB_SP_HI);
    }
  }
}

/**
 * On a miss: if the entry `acc` indexes for `va` holds a global mapping of
 * that page under the same key but another slot of the same MODE, moves it
 * to the current slot (`key`) and returns true — the access may use it.
 */
@inline export function tlbRetagGlobal(acc: u32, va: u64, key: u64): bool {
  const e = tlbEntry(acc, va);
  const tag = load<u64>(e);
  const want = (va & ~<u64>0xfff) | key;
  if (((tag ^ want) & ~TAG_SLOT) != 0) return false;
  if (!(load<u32>(e, 12) & META_GLOBAL)) return false;
  const from = <u32>((tag & TAG_SLOT) >> SLOT_SHIFT);
  const to = <u32>((key & TAG_SLOT) >> SLOT_SHIFT);
  if (!from || !to || (slotCtx(from) >> 16) != (slotCtx(to) >> 16)) return false;
  store<u64>(e, want);
  return true;
}

export function tlbFlushAll(): void {
  memory.fill(hart + H_TLB, 0, TLB_SIZE);
  store<u64>(hart, ~<u64>0, H_TLB_SP_LO);
  store<u64>(hart, 0, H_TLB_SP_HI);
  bump(H_STAT_TLB_FLUSHES);
}

/**
 * Drops every store entry, keeping fetch and load ones: after it, the next
 * store to any page takes the slow path (dirty logging, mm/dirty.ts: a page
 * whose dirty bit was cleared must be logged again on its next store).
 */
export function tlbDropStores(): void {
  memory.fill(hart + H_TLB + ACC_STORE * TLB_TABLE_SIZE, 0, TLB_TABLE_SIZE);
  bump(H_STAT_TLB_INVALS);
}

/**
 * Drops every entry whose slot is in the mask `slots` and, when `byVa`,
 * whose leaf covers `va`; global entries survive when `keepGlobal`.
 */
function scan(slots: u32, va: u64, byVa: bool, keepGlobal: bool): void {
  const end = hart + H_TLB + TLB_SIZE;
  for (let e = hart + H_TLB; e < end; e += 16) {
    const tag = load<u64>(e);
    if (tag == 0 || ((slots >> <u32>((tag & TAG_SLOT) >> SLOT_SHIFT)) & 1) == 0) continue;
    const meta = load<u32>(e, 12);
    if (keepGlobal && (meta & META_GLOBAL) != 0) continue;
    if (byVa && (tag ^ va) >> (12 + 9 * <u64>(meta & META_LEVEL)) != 0) continue;
    store<u64>(e, 0);
  }
}

/**
 * sfence.vma: rs1's value `va` when `byVa` (rs1 != x0), rs2's ASID when
 * `byAsid` (rs2 != x0). See the header for what each form drops.
 */
export function tlbFence(va: u64, byVa: bool, asid: u32, byAsid: bool): void {
  if (!byVa && !byAsid) {
    tlbFlushAll();
    return;
  }
  bump(H_STAT_TLB_INVALS);
  let slots: u32 = ~<u32>1; // every translated slot
  if (byAsid) {
    // Bits SXLEN-1:ASIDMAX of rs2 are reserved: ignored.
    asid &= 0xffff;
    slots = 0;
    for (let s: u32 = 1; s < TLB_SLOTS; s++) {
      const c = slotCtx(s);
      if (c && (c & 0xffff) == asid) slots |= <u32>1 << s;
    }
    if (!slots) return; // nothing cached for that ASID
  }
  if (!byVa) {
    scan(slots, 0, false, true);
    return;
  }
  if (va >= load<u64>(hart, H_TLB_SP_LO) && va <= load<u64>(hart, H_TLB_SP_HI)) {
    scan(slots, va, true, byAsid);
    return;
  }
  const page = va & ~<u64>0xfff;
  for (let acc: u32 = 0; acc < 3; acc++) {
    const e = tlbEntry(acc, va);
    const tag = load<u64>(e);
    if ((tag & ~<u64>0xfff) != page || ((slots >> <u32>((tag & TAG_SLOT) >> SLOT_SHIFT)) & 1) == 0) continue;
    if (byAsid && (load<u32>(e, 12) & META_GLOBAL) != 0) continue;
    store<u64>(e, 0);
  }
}
