// Guest memory as an SBI implementation reaches it: physical ranges (DBCN
// takes physical addresses, spec "Shared memory physical address range
// parameter") and the legacy extension's virtual hart-mask pointers. Every
// address is checked against the caller's own partition before it is
// touched, so a guest can reach neither the host nor another partition.
import { PRIV_S } from '../cpu/defs';
import { gpaIsRam, gpaToHost } from '../mm/gpa';
import { pmpAllows } from '../mmu/pmp';
import { ACC_LOAD } from '../mmu/tlb';
import { translate, walkFault } from '../mmu/walk';

/** Is [gpa, gpa + len) guest RAM of the caller's partition? */
@inline export function physIsRam(gpa: u64, len: u64): bool {
  return gpaIsRam(gpa, len);
}

/** May S-mode access [gpa, gpa + len) with access type `acc` (PMP)? */
@inline export function physAllowed(gpa: u64, len: u64, acc: u32): bool {
  return pmpAllows(gpa, len, acc, PRIV_S);
}

/**
 * Host address of guest-physical `gpa`, valid up to the end of its page
 * (callers copy page by page, so a non-contiguous second stage works too).
 * Only for addresses physIsRam accepted.
 */
@inline export function physHost(gpa: u64): usize {
  return <usize>gpaToHost(gpa);
}

/** Bytes from `gpa` to the end of its page. */
@inline export function toPageEnd(gpa: u64): u32 {
  return 4096 - <u32>(gpa & 0xfff);
}

export let virtOk: bool = false;

/**
 * Loads the u64 at S-mode virtual address `va` through the caller's satp
 * (with its SUM/MXR), as an SBI v0.1 implementation reads a hart mask.
 * Sets virtOk = false, loading nothing, unless `va` is aligned RAM S-mode
 * may read.
 */
export function virtLoad64(va: u64): u64 {
  virtOk = false;
  if (va & 7) return 0;
  const pa = translate(va, ACC_LOAD, PRIV_S);
  if (walkFault || !physIsRam(pa, 8) || !physAllowed(pa, 8, ACC_LOAD)) return 0;
  virtOk = true;
  return load<u64>(physHost(pa));
}
