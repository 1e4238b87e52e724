// Physical memory protection (privileged spec 3.7): 16 entries.
//
// pmpcfg (RV64: the even CSRs pmpcfg0 and pmpcfg2 hold 8 entries each):
//   bit 0 R, 1 W, 2 X, 3-4 A (0 OFF, 1 TOR, 2 NA4, 3 NAPOT), 7 L (locked)
// pmpaddr holds address bits 55:2.
import { hart, H_PMPADDR, H_PMPCFG } from '../cpu/hart';
import { PRIV_M } from '../cpu/defs';
import { ACC_FETCH, ACC_STORE } from './tlb';

export const PMP_ENTRIES: u32 = 16;
const PMP_R: u32 = 1;
const PMP_W: u32 = 2;
const PMP_X: u32 = 4;
const PMP_L: u32 = 0x80;
const A_OFF: u32 = 0;
const A_TOR: u32 = 1;
const A_NA4: u32 = 2;

@inline export function pmpCfg(i: u32): u32 {
  return load<u8>(hart + H_PMPCFG + i);
}
@inline export function pmpAddr(i: u32): u64 {
  return load<u64>(hart + H_PMPADDR + (i << 3));
}

/** True when any entry is active (A != OFF); with none, checks are skipped for M. */
export function pmpAnyActive(): bool {
  for (let i: u32 = 0; i < PMP_ENTRIES; i++) if ((pmpCfg(i) >> 3) & 3) return true;
  return false;
}

/**
 * May an access of `len` bytes at physical `pa` by privilege `priv` proceed?
 * The lowest-numbered entry matching any byte decides; it must match all of
 * them (spec: a partial match fails).
 */
export function pmpAllows(pa: u64, len: u64, acc: u32, priv: u32): bool {
  const end = pa + len; // exclusive; no overflow for physical addresses < 2^56
  for (let i: u32 = 0; i < PMP_ENTRIES; i++) {
    const cfg = pmpCfg(i);
    const a = (cfg >> 3) & 3;
    if (a == A_OFF) continue;
    let lo: u64, hi: u64;
    const addr = pmpAddr(i);
    if (a == A_TOR) {
      lo = i == 0 ? 0 : pmpAddr(i - 1) << 2;
      hi = addr << 2;
    } else if (a == A_NA4) {
      lo = addr << 2;
      hi = lo + 4;
    } else {
      const mask = addr ^ (addr + 1); // trailing ones plus one bit
      lo = (addr & ~mask) << 2;
      hi = lo + ((mask + 1) << 2);
    }
    if (end <= lo || pa >= hi) continue; // no byte matches
    if (pa < lo || end > hi) return false; // partial match
    if (priv == PRIV_M && !(cfg & PMP_L)) return true;
    if (acc == ACC_FETCH) return (cfg & PMP_X) != 0;
    if (acc == ACC_STORE) return (cfg & PMP_W) != 0;
    return (cfg & PMP_R) != 0;
  }
  return priv == PRIV_M;
}

/** Is entry i locked against writes (its own L, or the next TOR entry's L)? */
export function pmpAddrLocked(i: u32): bool {
  if (pmpCfg(i) & PMP_L) return true;
  if (i + 1 < PMP_ENTRIES) {
    const next = pmpCfg(i + 1);
    if (next & PMP_L && ((next >> 3) & 3) == A_TOR) return true;
  }
  return false;
}

/** Writes one pmpcfg byte, honouring the lock and the reserved W-without-R combination. */
export function pmpWriteCfg(i: u32, v: u32): void {
  if (pmpCfg(i) & PMP_L) return;
  v &= 0x9f;
  if ((v & (PMP_R | PMP_W)) == PMP_W) v &= ~PMP_W; // R=0 W=1 is reserved
  store<u8>(hart + H_PMPCFG + i, <u8>v);
}
