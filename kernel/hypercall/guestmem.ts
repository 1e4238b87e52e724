// Guest memory as an SBI implementation reaches it: physical ranges (DBCN
// takes physical addresses, spec "Shared memory physical address range
// parameter") and the legacy extension's virtual hart-mask pointers. Every
// address is checked against the caller's own partition before it is
// touched, so a guest can reach neither the host nor another partition.
import { PRIV_S } from '../cpu/defs';
import { gpaToHost, gpaToHostForStore } from '../mm/gpa';
import { P_RAM_GPA, P_RAM_SIZE } from '../mm/partition';
import { pmpAllows } from '../mmu/pmp';
import { ACC_LOAD } from '../mmu/tlb';
import { translate, walkFault } from '../mmu/walk';
import { callerPartition } from './abi';

/**
 * Is [gpa, gpa + len) inside the caller's RAM range? (O(1), overflow-safe.)
 * Under nested paging RAM need not be contiguous in host memory, so callers
 * access it page by page through physHost, after physMapped has checked the
 * pages they will actually touch.
 */
export function physIsRam(gpa: u64, len: u64): bool {
  const p = callerPartition();
  const off = gpa - load<u64>(p, P_RAM_GPA);
  const size = load<u64>(p, P_RAM_SIZE);
  return off < size && len <= size - off;
}

/** Is every page of [gpa, gpa + len) mapped by the second stage? (len > 0, range in RAM.) */
export function physMapped(gpa: u64, len: u64): bool {
  const end = gpa + len;
  for (let page = gpa & ~<u64>0xfff; page < end; page += 0x1000) {
    if (gpaToHost(page) < 0) return false;
  }
  return true;
}

/** May S-mode access [gpa, gpa + len) with access type `acc` (PMP)? */
@inline export function physAllowed(gpa: u64, len: u64, acc: u32): bool {
  return pmpAllows(gpa, len, acc, PRIV_S);
}

/**
 * Host address of guest-physical `gpa`, valid up to the end of its page
 * (callers copy page by page). Only for addresses physMapped accepted.
 */
@inline export function physHost(gpa: u64): usize {
  return <usize>gpaToHost(gpa);
}

/**
 * physHost for a write: the page is marked dirty first (mm/gpa.ts
 * gpaToHostForStore). Negative when the page needed a host frame and the
 * pool had none (overcommit): the caller writes nothing.
 */
@inline export function physHostForStore(gpa: u64): i64 {
  return gpaToHostForStore(gpa);
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
  if (walkFault || !physIsRam(pa, 8) || !physMapped(pa, 8) || !physAllowed(pa, 8, ACC_LOAD)) return 0;
  virtOk = true;
  return load<u64>(physHost(pa));
}
