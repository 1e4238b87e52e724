// Shadow paging: per-vCPU tables that map guest-virtual pages straight to
// host frames (GVA -> HPA), built lazily from the guest's own page tables,
// with the guest's page-table pages write-protected so that the shadow can
// never go stale.
//
// Where nested paging pays a two-dimensional walk on every TLB miss (each
// guest PTE fetched through the G-stage), a shadow hit is a one-dimensional
// walk of 4 levels; the full guest walk runs only to fill a shadow entry
// (a "shadow sync"). The price is write protection: every guest store to a
// page-table page leaves the fast path (a "write-protect fault") and drops
// the shadows it could invalidate.
//
// Shadow table: a 4-level radix tree over VA bits 47:12 (enough for Sv39
// and Sv48), one 4 KiB frame per node, entries u64:
//   node entry   host address of the next node << 32 | V
//   leaf entry   host page << 32 | level << 8 | D-ok | G | U | X | W | R | V
// R/W/X/U/G are the guest PTE's (R/W/X already ANDed with what PMP allows
// S/U); D-ok says the guest PTE's D bit is set, so stores may use the entry;
// level is the guest leaf's (a superpage is shadowed as 4 KiB pieces), kept
// for the TLB entries filled from the shadow (mmu/tlb.ts: what an addressed
// sfence.vma must drop).
//
// Invalidation is coarse but exact: a write-protect fault or a PMP change
// drops the whole shadow of the vCPU and its TLB (and asks the partition's
// other vCPUs to drop theirs before they run again). A satp write that
// changes satp drops the shadow only: it was built from the old root, while
// the TLB's entries are tagged with their address space (mmu/tlb.ts) and
// stay. sfence.vma never touches the shadow: write protection keeps it equal
// to the guest's tables at all times, and it always belongs to the current
// root, so there is nothing stale in it for a fence to drop (the TLB entries
// a fence must drop are dropped by tlbFence). Precise write-protect faults
// (dropping only what the written PTE mapped) would need a reverse map from
// page-table pages to the VAs they translate; not done.
import {
  hart, H_MSTATUS, H_PARTITION, H_SATP, H_SHADOW_FLUSH_PENDING, H_SHADOW_ROOT, H_STAT_SHADOW_FILLS, H_STAT_SHADOW_FLUSHES,
  H_STAT_WP_FAULTS,
} from '../cpu/hart';
import { MS_MXR, MS_SUM, PRIV_M, PRIV_S, PRIV_U } from '../cpu/defs';
import { pmpAllows } from './pmp';
import { vcpuAddr } from '../layout';
import { frameAlloc, frameFree } from '../mm/frames';
import { PF_SHADOW, P_FIRST_VCPU, P_FLAGS, P_NVCPUS, P_PT_BITMAP, P_RAM_GPA, P_RAM_SIZE } from '../mm/partition';
import { ACC_FETCH, ACC_LOAD, ACC_STORE, tlbFlushAll } from './tlb';
import { shareFrameReadOnly } from '../mm/share';

const SV: u64 = 1 << 0;
const SR: u64 = 1 << 1;
const SW: u64 = 1 << 2;
const SX: u64 = 1 << 3;
const SU: u64 = 1 << 4;
const SG: u64 = 1 << 5; // the guest PTE's G bit (same position)
const SD_OK: u64 = 1 << 7;
const SLEVEL_SHIFT: u64 = 8;
const PTE_D: u64 = 1 << 7; // the guest PTE's dirty bit (same position as D-ok)

@inline function bump(off: u32): void {
  store<u64>(hart + off, load<u64>(hart + off) + 1);
}

@inline function slot(node: u32, va: u64, level: u32): usize {
  return <usize>node + ((<usize>(va >> (12 + 9 * <u64>level)) & 0x1ff) << 3);
}

/** Does the running vCPU's partition use shadow paging? */
export function partitionShadowed(): bool {
  return (load<u32>(<usize>load<u32>(hart, H_PARTITION), P_FLAGS) & PF_SHADOW) != 0;
}

/** In a shadowed partition, does an access at `priv` go through the shadow (S/U with satp != Bare)? */
export function shadowActive(priv: u32): bool {
  return priv != PRIV_M && (load<u64>(hart, H_SATP) >> 60) != 0;
}

/**
 * Shadow permissions for a guest leaf PTE mapping guest page `page`: the
 * guest's R W X U, less what PMP denies S/U there (the rules are the same for
 * both), W withheld from page-table pages (write protection), D-ok when the
 * guest PTE is dirty.
 */
export function shadowPerms(pte: u64, page: u64, priv: u32, pageTable: bool): u64 {
  let perms = pte & (SR | SW | SX | SU | SG);
  if (pte & PTE_D) perms |= SD_OK;
  if (pageTable) perms &= ~SW;
  if (!pmpAllows(page, 4096, ACC_LOAD, priv)) perms &= ~SR;
  if (!pmpAllows(page, 4096, ACC_STORE, priv)) perms &= ~SW;
  if (!pmpAllows(page, 4096, ACC_FETCH, priv)) perms &= ~SX;
  return perms;
}

/** The leaf entry for `va` in the running vCPU's shadow, or 0. */
export function shadowLookup(va: u64): u64 {
  let node = load<u32>(hart, H_SHADOW_ROOT);
  if (!node) return 0;
  for (let level: u32 = 3; level > 0; level--) {
    const e = load<u64>(slot(node, va, level));
    if (!(e & SV)) return 0;
    node = <u32>(e >> 32);
  }
  return load<u64>(slot(node, va, 0));
}

/**
 * May an access of kind `acc` at privilege `priv` use shadow leaf `e`? The
 * same checks as the guest walk's leaf (privileged spec 4.3.1), plus D-ok
 * for stores so that the first store still reaches the walk to set D.
 */
export function shadowAllows(e: u64, acc: u32, priv: u32): bool {
  if (!(e & SV)) return false;
  const ms = load<u64>(hart, H_MSTATUS);
  if (e & SU) {
    if (priv == PRIV_S && (acc == ACC_FETCH || !(ms & MS_SUM))) return false;
  } else if (priv == PRIV_U) return false;
  if (acc == ACC_FETCH) return (e & SX) != 0;
  if (acc == ACC_LOAD) return (e & SR) != 0 || ((ms & MS_MXR) != 0 && (e & SX) != 0);
  return (e & SW) != 0 && (e & SD_OK) != 0;
}

/** TLB entry meta (mmu/tlb.ts: level | G << 2) of shadow leaf `e`. */
export function shadowMeta(e: u64): u32 {
  return <u32>((e >> SLEVEL_SHIFT) & 3) | (e & SG ? 4 : 0);
}

/**
 * Records host page `host` for `va` with guest permissions `perms` (R W X U
 * G D-ok bits, from shadowPerms) from a guest leaf at `level`.
 */
export function shadowFill(va: u64, host: u32, perms: u64, level: u32): void {
  // A shared frame (or one the scanner is comparing) is never shadowed: a
  // copy-on-write break then only has TLB entries to drop, precisely
  // (mm/shootdown.ts), and no shadow entry can let a store past it.
  if (shareFrameReadOnly(host)) return;
  let node = load<u32>(hart, H_SHADOW_ROOT);
  if (!node) {
    node = frameAlloc();
    if (!node) return; // out of frames: run unshadowed
    store<u32>(hart, node, H_SHADOW_ROOT);
  }
  for (let level: u32 = 3; level > 0; level--) {
    const s = slot(node, va, level);
    const e = load<u64>(s);
    if (e & SV) {
      node = <u32>(e >> 32);
    } else {
      const next = frameAlloc();
      if (!next) return;
      store<u64>(s, (<u64>next << 32) | SV);
      node = next;
    }
  }
  store<u64>(
    slot(node, va, 0),
    (<u64>(host & ~0xfff) << 32) | (<u64>(level & 3) << SLEVEL_SHIFT) | (perms & (SR | SW | SX | SU | SG | SD_OK)) | SV,
  );
  bump(H_STAT_SHADOW_FILLS);
}

function freeTree(node: u32, level: u32): void {
  if (level > 0) {
    for (let i: u32 = 0; i < 512; i++) {
      const e = load<u64>(<usize>node + (i << 3));
      if (e & SV) freeTree(<u32>(e >> 32), level - 1);
    }
  }
  frameFree(node);
}

/** Frees the shadow tables of vCPU block `v`, which no thread runs (its partition is gone). */
export function shadowRelease(v: usize): void {
  const root = load<u32>(v, H_SHADOW_ROOT);
  if (!root) return;
  store<u32>(v, 0, H_SHADOW_ROOT);
  freeTree(root, 3);
}

/** Drops the running vCPU's whole shadow (and its TLB, which was filled from it). */
export function shadowFlush(): void {
  atomic.store<u32>(hart, 0, H_SHADOW_FLUSH_PENDING);
  tlbFlushAll();
  const root = load<u32>(hart, H_SHADOW_ROOT);
  if (!root) return;
  store<u32>(hart, 0, H_SHADOW_ROOT);
  freeTree(root, 3);
  bump(H_STAT_SHADOW_FLUSHES);
}

/**
 * satp changed: the shadow, built from the old root, goes; the TLB stays (its
 * entries are tagged with their address space).
 */
export function shadowSatpChanged(): void {
  const root = load<u32>(hart, H_SHADOW_ROOT);
  if (!root) return;
  store<u32>(hart, 0, H_SHADOW_ROOT);
  freeTree(root, 3);
  bump(H_STAT_SHADOW_FLUSHES);
}

/** Before a vCPU runs: honour a flush another vCPU asked for. */
export function shadowBeforeRun(): void {
  if (atomic.load<u32>(hart, H_SHADOW_FLUSH_PENDING)) shadowFlush();
}

/** Asks every other vCPU of the running partition to drop its shadow (and TLB) before it runs again. */
function flushOthers(): void {
  const p = <usize>load<u32>(hart, H_PARTITION);
  const first = load<u32>(p, P_FIRST_VCPU);
  const n = load<u32>(p, P_NVCPUS);
  for (let i: u32 = 0; i < n; i++) {
    const v = vcpuAddr(first + i);
    if (v != hart) atomic.store<u32>(v, 1, H_SHADOW_FLUSH_PENDING);
  }
}

// ---- write protection of guest page-table pages ---------------------------------

/** Is guest page `gpa` one the guest uses as a page table (so stores must be caught)? */
export function isPageTable(gpa: u64): bool {
  const p = <usize>load<u32>(hart, H_PARTITION);
  const bitmap = load<u32>(p, P_PT_BITMAP);
  const off = gpa - load<u64>(p, P_RAM_GPA);
  if (!bitmap || off >= load<u64>(p, P_RAM_SIZE)) return false;
  const bit = <usize>(off >> 12);
  return ((load<u8>(<usize>bitmap + (bit >> 3)) >> <u8>(bit & 7)) & 1) != 0;
}

/**
 * The guest walk read a PTE at `gpa`: its page is now write-protected. A
 * store TLB entry made before that would bypass the protection, so the first
 * marking of a page flushes the TLBs (ours now, the others' before they run).
 */
export function markPageTable(gpa: u64): void {
  const p = <usize>load<u32>(hart, H_PARTITION);
  const bitmap = load<u32>(p, P_PT_BITMAP);
  const off = gpa - load<u64>(p, P_RAM_GPA);
  if (!bitmap || off >= load<u64>(p, P_RAM_SIZE)) return;
  const bit = <usize>(off >> 12);
  const byte = <usize>bitmap + (bit >> 3);
  const mask = <u32>1 << <u32>(bit & 7);
  if (atomic.load<u8>(byte) & <u8>mask) return;
  atomic.or<u8>(byte, <u8>mask);
  // Entries made while the page was plain data may map it writable, and
  // store TLB entries may point into it: drop both, here and everywhere.
  shadowFlush();
  flushOthers();
}

/** A guest store is about to change a page-table page: nothing shadowed from it may survive. */
export function shadowWriteProtectFault(): void {
  bump(H_STAT_WP_FAULTS);
  shadowFlush();
  flushOthers();
}

