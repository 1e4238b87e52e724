// The software TLB: per vCPU, split by access type (fetch | load | store),
// direct-mapped, 256 entries each, 16 bytes an entry.
//
//   entry:  +0 tag    u64   (virtual page) | key << 4  — 0 = invalid
//           +8 addend u32   host address = u32(vaddr) + addend  (mod 2^32)
//
// The key folds in everything besides the page that decides the outcome of
// a translation: effective privilege, mstatus.SUM and mstatus.MXR. So a trap
// from U to S or an MPRV toggle needs no flush: the key changes and the other
// privilege's entries simply stop matching. satp writes, sfence.vma and PMP
// changes flush.
//
// A lookup for an n-byte access compares (vaddr & (~0xfff | (n-1))) | key
// against the tag: a misaligned address keeps low bits the tag never has and
// falls to the slow path, which splits it. So the common access is one
// compare plus one wasm load, and a JIT can emit the same sequence inline.
import { hart, H_TLB, H_STAT_TLB_FLUSHES } from '../cpu/hart';

export const ACC_FETCH: u32 = 0;
export const ACC_LOAD: u32 = 1;
export const ACC_STORE: u32 = 2;

export const TLB_ENTRIES_LOG2: u32 = 8;
export const TLB_ENTRIES: u32 = 1 << TLB_ENTRIES_LOG2;
export const TLB_TABLE_SIZE: u32 = TLB_ENTRIES * 16;
export const TLB_SIZE: u32 = 3 * TLB_TABLE_SIZE;

/** Current TLB keys, already shifted into tag position (per-thread globals). */
export let fetchKey: u64 = 1 << 4;
export let dataKey: u64 = 1 << 4;

export function setKeys(fetch: u64, data: u64): void {
  fetchKey = fetch << 4;
  dataKey = data << 4;
}

@inline export function tlbEntry(acc: u32, vaddr: u64): usize {
  return hart + H_TLB + acc * TLB_TABLE_SIZE + ((<usize>(vaddr >> 12) & (TLB_ENTRIES - 1)) << 4);
}

/** Caches vpage -> host page for `acc` under `key` (unshifted tag key included). */
@inline export function tlbFill(acc: u32, vaddr: u64, key: u64, hostPage: u32): void {
  const e = tlbEntry(acc, vaddr);
  store<u64>(e, (vaddr & ~<u64>0xfff) | key);
  store<u32>(e, hostPage - <u32>(vaddr & ~<u64>0xfff), 8);
}

export function tlbFlushAll(): void {
  memory.fill(hart + H_TLB, 0, TLB_SIZE);
  store<u64>(hart, load<u64>(hart, H_STAT_TLB_FLUSHES) + 1, H_STAT_TLB_FLUSHES);
}

/** sfence.vma with an address: drop that page from every table. */
export function tlbFlushPage(vaddr: u64): void {
  for (let acc: u32 = 0; acc < 3; acc++) store<u64>(tlbEntry(acc, vaddr), 0);
}
