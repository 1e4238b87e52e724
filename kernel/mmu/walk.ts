// Sv39 / Sv48 page-table walk (privileged spec 4.3.2 and 4.4).
//
// Sv39 virtual address: | VPN[2] 9 | VPN[1] 9 | VPN[0] 9 | offset 12 |,
// bits 63:39 must equal bit 38. Sv48 adds VPN[3] and checks bits 63:48.
// A PTE: | N | PBMT 2 | reserved 7 | PPN 44 | RSW 2 | D A G U X W R V |.
//
// Translation returns a physical address or, through `walkFault`, the
// exception cause; the caller raises it (QEMU's split between a translation
// result and the architectural fault).
import { hart, H_MSTATUS, H_SATP, H_STAT_WALKS, H_STAT_WALK_REFS } from '../cpu/hart';
import { Cause, MS_MXR, MS_SUM, PRIV_M, PRIV_S, PRIV_U, SATP_MODE_SV39, SATP_MODE_SV48 } from '../cpu/defs';
import { gpaToHost, gpaToHostForStore, NO_FRAME } from '../mm/gpa';
import { CAUSE_RETRY, excCause, excPending, raiseNoMemory } from '../cpu/exception';
import { ACC_FETCH, ACC_LOAD, ACC_STORE } from './tlb';
import { pmpAllows } from './pmp';
import { markPageTable } from './shadow';

const PTE_V: u64 = 1 << 0;
const PTE_R: u64 = 1 << 1;
const PTE_W: u64 = 1 << 2;
const PTE_X: u64 = 1 << 3;
const PTE_U: u64 = 1 << 4;
const PTE_A: u64 = 1 << 6;
const PTE_D: u64 = 1 << 7;
/** N, PBMT and the reserved bits: we implement neither Svnapot nor Svpbmt. */
const PTE_RESERVED: u64 = 0xffc0_0000_0000_0000;

/** 0 when the last translate() succeeded, else the exception cause. */
export let walkFault: u32 = 0;
/** After a successful walk through the tables: the leaf PTE (0 for M-mode / Bare). */
export let walkLeaf: u64 = 0;
/** With walkLeaf: the leaf's level (0 a 4 KiB page, 1 2 MiB, 2 1 GiB, 3 512 GiB). */
export let walkLevel: u32 = 0;
/** Shadow paging: record every page-table page the walk reads (write protection). */
let markTables: bool = false;
export function setMarkTables(on: bool): void {
  markTables = on;
}

@inline function pageFault(acc: u32): u32 {
  return acc == ACC_FETCH ? Cause.INSN_PAGE_FAULT : acc == ACC_LOAD ? Cause.LOAD_PAGE_FAULT : Cause.STORE_PAGE_FAULT;
}
@inline export function accessFault(acc: u32): u32 {
  return acc == ACC_FETCH ? Cause.INSN_ACCESS : acc == ACC_LOAD ? Cause.LOAD_ACCESS : Cause.STORE_ACCESS;
}

/**
 * A page-table page without a usable frame: an access fault, unless its
 * translation has raised an exit to the root (swapped out, mm/swap.ts):
 * then the walk fails with that, and the instruction runs again once the
 * root has read the page back.
 */
function missFault(acc: u32): u32 {
  return excPending && excCause == CAUSE_RETRY ? CAUSE_RETRY : accessFault(acc);
}

/**
 * Virtual to physical for an access by effective privilege `priv`.
 * M-mode and satp.MODE = Bare are the identity.
 */
export function translate(va: u64, acc: u32, priv: u32): u64 {
  walkFault = 0;
  walkLeaf = 0;
  walkLevel = 0;
  const satp = load<u64>(hart, H_SATP);
  const mode = satp >> 60;
  if (priv == PRIV_M || mode == 0) return va;

  const levels: i32 = mode == SATP_MODE_SV48 ? 4 : 3;
  const vaBits: u64 = 12 + 9 * <u64>levels;
  // The upper bits must be a sign extension of the top VA bit.
  if (<u64>(<i64>(va << (64 - vaBits)) >> (64 - vaBits)) != va) {
    walkFault = pageFault(acc);
    return 0;
  }
  const mstatus = load<u64>(hart, H_MSTATUS);
  store<u64>(hart, load<u64>(hart, H_STAT_WALKS) + 1, H_STAT_WALKS);

  let table: u64 = (satp & 0xfff_ffff_ffff) << 12;
  for (let i = levels - 1; i >= 0; i--) {
    const pteAddr = table + (((va >> (12 + 9 * <u64>i)) & 0x1ff) << 3);
    // Implicit page-table accesses are checked by PMP as S-mode loads.
    const host = gpaToHost(pteAddr);
    if (host < 0 || !pmpAllows(pteAddr, 8, ACC_LOAD, PRIV_S)) {
      walkFault = missFault(acc);
      return 0;
    }
    store<u64>(hart, load<u64>(hart, H_STAT_WALK_REFS) + 1, H_STAT_WALK_REFS);
    if (markTables) markPageTable(pteAddr);
    let pte = atomic.load<u64>(<usize>host);
    if (!(pte & PTE_V) || (pte & (PTE_R | PTE_W)) == PTE_W || pte & PTE_RESERVED) break;
    if (!(pte & (PTE_R | PTE_X))) {
      table = ((pte >> 10) & 0xfff_ffff_ffff) << 12; // pointer to the next level
      continue;
    }
    // Leaf: permissions for this privilege.
    if (pte & PTE_U) {
      if (priv == PRIV_S && (acc == ACC_FETCH || !(mstatus & MS_SUM))) break;
    } else if (priv == PRIV_U) break;
    if (acc == ACC_FETCH) {
      if (!(pte & PTE_X)) break;
    } else if (acc == ACC_LOAD) {
      if (!(pte & PTE_R) && !(mstatus & MS_MXR && pte & PTE_X)) break;
    } else if (!(pte & PTE_W)) break;
    const ppn = (pte >> 10) & 0xfff_ffff_ffff;
    const lowMask: u64 = (<u64>1 << (9 * <u64>i)) - 1;
    if (ppn & lowMask) break; // misaligned superpage
    // Hardware A/D update (as QEMU does), atomically against other harts.
    const want = pte | PTE_A | (acc == ACC_STORE ? PTE_D : 0);
    if (want != pte) {
      // A write into guest memory: through the store choke point (dirty log).
      const into = gpaToHostForStore(pteAddr);
      if (into == NO_FRAME) {
        // The table's page needs a frame (copy-on-write) and the pool has
        // none: the access takes the no-memory exit, not a guest fault.
        raiseNoMemory(pteAddr);
        walkFault = CAUSE_RETRY; // what guestToHost raises again: the same retry
        return 0;
      }
      if (into < 0) {
        walkFault = missFault(acc); // swapped out since it was read above (mm/swap.ts)
        return 0;
      }
      if (atomic.cmpxchg<u64>(<usize>into, pte, want) != pte) {
        i++; // the PTE changed under us: walk this level again
        continue;
      }
    }
    walkLeaf = want;
    walkLevel = <u32>i;
    return (((ppn & ~lowMask) | ((va >> 12) & lowMask)) << 12) | (va & 0xfff);
  }
  walkFault = pageFault(acc);
  return 0;
}
