// The interpreter: fetch, decode and execute until the slice's instruction
// budget is spent or something needs the host.
//
// Hot-path rules: no calls across the wasm boundary, no allocation, pc and
// the fetch page cached in locals, one `attention` test per instruction.
// Compressed instructions are expanded by a table load (rvc.ts) and share
// the 32-bit decoder.
import { mmEnter, mmLeave } from '../mm/shootdown';
import {
  hart, Exit, H_ATTENTION, H_PREEMPT, H_MMIO_STATE, MmioState, H_EXIT, H_FCSR, H_INSTRET, H_MSTATUS, H_PC, H_PRIV, H_RESV_ADDR, H_RESV_VALUE, H_WFI,
  getF, getX, rX, setF, setX, wX,
} from './hart';
import { Cause, MS_FS, MS_TSR, MS_TVM, MS_TW, PRIV_M, PRIV_S, PRIV_U } from './defs';
import {
  excCause, excPending, excTval, exitRequested, raise, requestResync, clearEvents, CAUSE_RETRY,
} from './exception';
import { csrAccessible, csrIllegal, csrRead, csrRmwBase, csrWrite } from './csr';
import { enterTrap, mret, sret } from './trap';
import { pendingInterrupt, wakeupPending } from './interrupts';
import { div32, div64, divu32, divu64, mulh, mulhsu, mulhu, rem32, rem64, remu32, remu64 } from './muldiv';
import { execFp } from './fpu/exec';
import { RVC_TABLE } from '../layout';
import { amoAddress, fetchAddend, fetchPage, fetchSlow, ldFast, setSliceBase, stFast, updateKeys } from '../mmu/access';
import { ACC_LOAD, ACC_STORE, tlbFence } from '../mmu/tlb';
import { enlightened, sbiEcall } from '../hypercall/sbi';
import { JIT_OFF, jitEnter, jitFlush, jitMode, jitPc } from '../jit/dispatch';
import { SBI_NEXT, SBI_SUSPEND } from '../hypercall/defs';

// ---- immediates (unprivileged spec 2.3) ----
@inline function immI(i: u32): u64 {
  return <u64>(<i64>(<i32>i >> 20));
}
@inline function immS(i: u32): u64 {
  return <u64>(<i64>(((<i32>i >> 25) << 5) | <i32>((i >> 7) & 31)));
}
@inline function immB(i: u32): u64 {
  return <u64>(<i64>(((<i32>i >> 31) << 12) | <i32>(((i >> 7) & 1) << 11) | <i32>(((i >> 25) & 0x3f) << 5) |
    <i32>(((i >> 8) & 0xf) << 1)));
}
@inline function immJ(i: u32): u64 {
  return <u64>(<i64>(((<i32>i >> 31) << 20) | <i32>(i & 0xff000) | <i32>(((i >> 20) & 1) << 11) |
    <i32>(((i >> 21) & 0x3ff) << 1)));
}
@inline function sext32(v: u64): u64 {
  return <u64>(<i64>(<i32>v));
}

@inline function fpOff(): bool {
  return (load<u64>(hart, H_MSTATUS) & MS_FS) == 0;
}
@inline function fpDirty(): void {
  store<u64>(hart, load<u64>(hart, H_MSTATUS) | MS_FS, H_MSTATUS);
}


const NAN_BOX: u64 = 0xffff_ffff_0000_0000;

/**
 * A slice's budget is in steps: instructions retired plus traps taken
 * (exceptions and interrupts), so a guest that retires nothing (a handler
 * that faults again, a trap storm) still spends it and returns to the host,
 * and a host that asks for N steps gets exactly N (--max-insns). A trap
 * leaves the inner loop through this flag and the outer loop charges it:
 * the budget changes outside the hot loop, which keeps its loop-carried
 * values (one more costs V8's register allocator ~40% of interpreter
 * speed, measured).
 */
let trapTaken = false;

// Major opcodes (instruction bits 6:2), shifted left 3 to make room for funct3
// in the dispatch key.
const LOAD: u32 = 0x00 << 3;
const LOAD_FP: u32 = 0x01 << 3;
const MISC_MEM: u32 = 0x03 << 3;
const OP_IMM: u32 = 0x04 << 3;
const AUIPC: u32 = 0x05 << 3;
const OP_IMM_32: u32 = 0x06 << 3;
const STORE: u32 = 0x08 << 3;
const STORE_FP: u32 = 0x09 << 3;
const AMO: u32 = 0x0b << 3;
const OP: u32 = 0x0c << 3;
const LUI: u32 = 0x0d << 3;
const OP_32: u32 = 0x0e << 3;
const MADD: u32 = 0x10 << 3;
const MSUB: u32 = 0x11 << 3;
const NMSUB: u32 = 0x12 << 3;
const NMADD: u32 = 0x13 << 3;
const OP_FP: u32 = 0x14 << 3;
const BRANCH: u32 = 0x18 << 3;
const JALR: u32 = 0x19 << 3;
const JAL: u32 = 0x1b << 3;
const SYSTEM: u32 = 0x1c << 3;

/**
 * Runs the current hart for at most `budget` instructions. Returns the exit
 * reason (see Exit) and leaves pc and instret in the hart block.
 */
export function run(budget: u32): u32 {
  const h = hart; // the register file, kept in a local (globals cost a load)
  let pc = load<u64>(h, H_PC);
  const instret0 = load<u64>(hart, H_INSTRET);
  let n: u32 = 0;
  trapTaken = false;
  setSliceBase(instret0);
  let fPage: u64 = 1; // page of pc the loop may fetch from directly (1 = none)
  let fAdd: u32 = 0;
  let reason = Exit.BUDGET;

  mmEnter(); // this thread owns the vCPU's TLB until run() returns (mm/shootdown.ts)
  clearEvents();
  updateKeys();
  store<u32>(hart, 0, H_WFI);
  // An instruction whose device access the root partition has completed
  // runs first, before any interrupt: it must not be performed twice.
  const first = load<u32>(h, H_MMIO_STATE) == MmioState.NONE ? pendingInterrupt() : -1;
  if (first >= 0) {
    pc = enterTrap(<u32>first, 0, pc, true);
    if (budget > 0) budget--; // a trap is a step
  }

  for (;;) { // once per trap taken (the inner loop is not indented: a small diff)
  while (n < budget) {
    // ---- fetch ----
    let insn: u32;
    // pc in the cached page, and not on its last halfword (a 32-bit
    // instruction there runs into the next page). `(pc + 2) & ~0xfff` alone
    // also matched the last halfword of the page BELOW and fetched it from
    // the host frame before this page's: some other guest page unless both
    // virtual pages map adjacent guest pages of one host run (Linux lost
    // init once page sharing had scattered busybox's text: issue 11).
    if ((pc & ~<u64>0xfff) == fPage && (<u32>pc & 0xfff) != 0xffe) {
      insn = load<u32>(<usize>(<u32>pc + fAdd)); // upper half is garbage for a 16-bit insn
    } else {
      insn = fetchSlow(pc);
      if (excPending) {
        const cause = excCause;
        clearEvents();
        // The page (or a page table above it) is swapped out: the root
        // reads it back and the fetch runs again (mm/swap.ts).
        if (cause == CAUSE_RETRY) {
          reason = Exit.HOST;
          break;
        }
        pc = enterTrap(cause, excTval, pc, false);
        trapTaken = true; // retires nothing but is a step
        break;
      }
      if ((pc & 0xfff) != 0xffe) {
        fPage = fetchPage;
        fAdd = fetchAddend;
      }
    }
    let next: u64;
    if ((insn & 3) != 3) {
      const c = insn & 0xffff;
      insn = load<u32>(RVC_TABLE + (c << 2));
      next = pc + 2;
      if (insn == 0) {
        raise(Cause.ILLEGAL_INSN, c);
        insn = 0x13; // executes as nothing; the attention path takes the trap
      }
    } else {
      next = pc + 4;
    }

    // ---- decode and execute ----
    const rd = (insn >> 7) & 31;
    const rs1 = (insn >> 15) & 31;
    const rs2 = (insn >> 20) & 31;
    const f7 = insn >> 25;
    // One dispatch on (major opcode, funct3): bits 6:2 (bits 1:0 are 11
    // here) and 14:12 give 256 dense cases, one br_table, so the common
    // instruction costs one indirect branch rather than two.
    switch ((((insn >> 2) & 0x1f) << 3) | ((insn >> 12) & 7)) {
      case LUI: case LUI | 1: case LUI | 2: case LUI | 3: case LUI | 4: case LUI | 5: case LUI | 6: case LUI | 7:
        wX(h, rd, sext32(insn & 0xffff_f000));
        break;
      case AUIPC: case AUIPC | 1: case AUIPC | 2: case AUIPC | 3:
      case AUIPC | 4: case AUIPC | 5: case AUIPC | 6: case AUIPC | 7:
        wX(h, rd, pc + sext32(insn & 0xffff_f000));
        break;
      case JAL: case JAL | 1: case JAL | 2: case JAL | 3: case JAL | 4: case JAL | 5: case JAL | 6: case JAL | 7:
        wX(h, rd, next);
        next = pc + immJ(insn);
        break;
      case JALR: {
        const t = (rX(h, rs1) + immI(insn)) & ~<u64>1;
        wX(h, rd, next);
        next = t;
        break;
      }
      case BRANCH: if (rX(h, rs1) == rX(h, rs2)) next = pc + immB(insn); break; // BEQ
      case BRANCH | 1: if (rX(h, rs1) != rX(h, rs2)) next = pc + immB(insn); break; // BNE
      case BRANCH | 4: if (<i64>rX(h, rs1) < <i64>rX(h, rs2)) next = pc + immB(insn); break; // BLT
      case BRANCH | 5: if (<i64>rX(h, rs1) >= <i64>rX(h, rs2)) next = pc + immB(insn); break; // BGE
      case BRANCH | 6: if (rX(h, rs1) < rX(h, rs2)) next = pc + immB(insn); break; // BLTU
      case BRANCH | 7: if (rX(h, rs1) >= rX(h, rs2)) next = pc + immB(insn); break; // BGEU

      // Loads: the value is written only if the access did not fault.
      case LOAD: { const v = <u64>(<i64>ldFast<i8>(rX(h, rs1) + immI(insn), n)); if (!excPending) wX(h, rd, v); break; } // LB
      case LOAD | 1: { const v = <u64>(<i64>ldFast<i16>(rX(h, rs1) + immI(insn), n)); if (!excPending) wX(h, rd, v); break; } // LH
      case LOAD | 2: { const v = <u64>(<i64>ldFast<i32>(rX(h, rs1) + immI(insn), n)); if (!excPending) wX(h, rd, v); break; } // LW
      case LOAD | 3: { const v = ldFast<u64>(rX(h, rs1) + immI(insn), n); if (!excPending) wX(h, rd, v); break; } // LD
      case LOAD | 4: { const v = <u64>ldFast<u8>(rX(h, rs1) + immI(insn), n); if (!excPending) wX(h, rd, v); break; } // LBU
      case LOAD | 5: { const v = <u64>ldFast<u16>(rX(h, rs1) + immI(insn), n); if (!excPending) wX(h, rd, v); break; } // LHU
      case LOAD | 6: { const v = <u64>ldFast<u32>(rX(h, rs1) + immI(insn), n); if (!excPending) wX(h, rd, v); break; } // LWU
      case STORE: stFast<u8>(rX(h, rs1) + immS(insn), <u8>rX(h, rs2), n); break; // SB
      case STORE | 1: stFast<u16>(rX(h, rs1) + immS(insn), <u16>rX(h, rs2), n); break; // SH
      case STORE | 2: stFast<u32>(rX(h, rs1) + immS(insn), <u32>rX(h, rs2), n); break; // SW
      case STORE | 3: stFast<u64>(rX(h, rs1) + immS(insn), rX(h, rs2), n); break; // SD

      case OP_IMM: wX(h, rd, rX(h, rs1) + immI(insn)); break; // ADDI
      case OP_IMM | 1: if (insn >> 26) illegal(insn); else wX(h, rd, rX(h, rs1) << (immI(insn) & 63)); break; // SLLI
      case OP_IMM | 2: wX(h, rd, <i64>rX(h, rs1) < <i64>immI(insn) ? 1 : 0); break; // SLTI
      case OP_IMM | 3: wX(h, rd, rX(h, rs1) < immI(insn) ? 1 : 0); break; // SLTIU
      case OP_IMM | 4: wX(h, rd, rX(h, rs1) ^ immI(insn)); break; // XORI
      case OP_IMM | 5: { // SRLI, SRAI
        const f6 = insn >> 26;
        const sh = immI(insn) & 63;
        if (f6 == 0) wX(h, rd, rX(h, rs1) >> sh);
        else if (f6 == 0x10) wX(h, rd, <u64>(<i64>rX(h, rs1) >> <i64>sh));
        else illegal(insn);
        break;
      }
      case OP_IMM | 6: wX(h, rd, rX(h, rs1) | immI(insn)); break; // ORI
      case OP_IMM | 7: wX(h, rd, rX(h, rs1) & immI(insn)); break; // ANDI

      case OP_IMM_32: wX(h, rd, sext32(<u64>(<u32>rX(h, rs1) + <u32>immI(insn)))); break; // ADDIW
      case OP_IMM_32 | 1: // SLLIW
        if (f7 == 0) wX(h, rd, sext32(<u64>(<u32>rX(h, rs1) << rs2)));
        else illegal(insn);
        break;
      case OP_IMM_32 | 5: // SRLIW, SRAIW
        if (f7 == 0) wX(h, rd, sext32(<u64>(<u32>rX(h, rs1) >> rs2)));
        else if (f7 == 0x20) wX(h, rd, <u64>(<i64>(<i32>rX(h, rs1) >> rs2)));
        else illegal(insn);
        break;

      // OP: funct7 0 = base, 0x20 = SUB/SRA, 1 = M extension.
      case OP: {
        const a = rX(h, rs1), b = rX(h, rs2);
        if (f7 == 0) wX(h, rd, a + b);
        else if (f7 == 0x20) wX(h, rd, a - b);
        else if (f7 == 1) wX(h, rd, a * b);
        else illegal(insn);
        break;
      }
      case OP | 1: {
        const a = rX(h, rs1), b = rX(h, rs2);
        if (f7 == 0) wX(h, rd, a << (b & 63));
        else if (f7 == 1) wX(h, rd, mulh(a, b));
        else illegal(insn);
        break;
      }
      case OP | 2: {
        const a = rX(h, rs1), b = rX(h, rs2);
        if (f7 == 0) wX(h, rd, <i64>a < <i64>b ? 1 : 0);
        else if (f7 == 1) wX(h, rd, mulhsu(a, b));
        else illegal(insn);
        break;
      }
      case OP | 3: {
        const a = rX(h, rs1), b = rX(h, rs2);
        if (f7 == 0) wX(h, rd, a < b ? 1 : 0);
        else if (f7 == 1) wX(h, rd, mulhu(a, b));
        else illegal(insn);
        break;
      }
      case OP | 4: {
        const a = rX(h, rs1), b = rX(h, rs2);
        if (f7 == 0) wX(h, rd, a ^ b);
        else if (f7 == 1) wX(h, rd, div64(a, b));
        else illegal(insn);
        break;
      }
      case OP | 5: {
        const a = rX(h, rs1), b = rX(h, rs2);
        if (f7 == 0) wX(h, rd, a >> (b & 63));
        else if (f7 == 0x20) wX(h, rd, <u64>(<i64>a >> <i64>(b & 63)));
        else if (f7 == 1) wX(h, rd, divu64(a, b));
        else illegal(insn);
        break;
      }
      case OP | 6: {
        const a = rX(h, rs1), b = rX(h, rs2);
        if (f7 == 0) wX(h, rd, a | b);
        else if (f7 == 1) wX(h, rd, rem64(a, b));
        else illegal(insn);
        break;
      }
      case OP | 7: {
        const a = rX(h, rs1), b = rX(h, rs2);
        if (f7 == 0) wX(h, rd, a & b);
        else if (f7 == 1) wX(h, rd, remu64(a, b));
        else illegal(insn);
        break;
      }

      case OP_32: {
        const a = <u32>rX(h, rs1), b = <u32>rX(h, rs2);
        if (f7 == 0) wX(h, rd, sext32(<u64>(a + b)));
        else if (f7 == 0x20) wX(h, rd, sext32(<u64>(a - b)));
        else if (f7 == 1) wX(h, rd, sext32(<u64>(a * b)));
        else illegal(insn);
        break;
      }
      case OP_32 | 1:
        if (f7 == 0) wX(h, rd, sext32(<u64>(<u32>rX(h, rs1) << (<u32>rX(h, rs2) & 31))));
        else illegal(insn);
        break;
      case OP_32 | 4:
        if (f7 == 1) wX(h, rd, sext32(<u64>div32(<u32>rX(h, rs1), <u32>rX(h, rs2))));
        else illegal(insn);
        break;
      case OP_32 | 5: {
        const a = <u32>rX(h, rs1), b = <u32>rX(h, rs2);
        if (f7 == 0) wX(h, rd, sext32(<u64>(a >> (b & 31))));
        else if (f7 == 0x20) wX(h, rd, <u64>(<i64>(<i32>a >> (b & 31))));
        else if (f7 == 1) wX(h, rd, sext32(<u64>divu32(a, b)));
        else illegal(insn);
        break;
      }
      case OP_32 | 6:
        if (f7 == 1) wX(h, rd, sext32(<u64>rem32(<u32>rX(h, rs1), <u32>rX(h, rs2))));
        else illegal(insn);
        break;
      case OP_32 | 7:
        if (f7 == 1) wX(h, rd, sext32(<u64>remu32(<u32>rX(h, rs1), <u32>rX(h, rs2))));
        else illegal(insn);
        break;

      // FENCE: memory is sequentially consistent here. FENCE.I: the only
      // cache of guest code is this thread's translations (jit/dispatch.ts).
      case MISC_MEM:
        break;
      case MISC_MEM | 1:
        if (jitMode != JIT_OFF) jitFlush();
        break;

      case SYSTEM: {
        store<u64>(h, instret0 + n, H_INSTRET); // exact for SBI calls (time, statistics)
        const r = system(insn, pc);
        if (r == SYS_WFI) {
          reason = Exit.WFI; // retires, then leaves through the attention path
          store<u32>(h, 1, H_WFI);
          store<u32>(h, 1, H_ATTENTION);
        } else if (r == SYS_JUMP) {
          next = sysTarget;
        }
        break;
      }
      case SYSTEM | 1: case SYSTEM | 2: case SYSTEM | 3: case SYSTEM | 5: case SYSTEM | 6: case SYSTEM | 7:
        store<u64>(h, instret0 + n, H_INSTRET); // counters read exactly
        csrOp(insn, rd, rs1, (insn >> 12) & 7);
        break;

      case AMO | 2: case AMO | 3:
        amo(insn, rd, rs1, rs2, (insn >> 12) & 7);
        break;

      case LOAD_FP | 2: case LOAD_FP | 3: { // FLW, FLD
        if (fpOff()) { illegal(insn); break; }
        const va = rX(h, rs1) + immI(insn);
        const v: u64 = insn & 0x1000 ? ldFast<u64>(va, n) : NAN_BOX | <u64>ldFast<u32>(va, n);
        if (!excPending) {
          setF(rd, v);
          fpDirty();
        }
        break;
      }
      case STORE_FP | 2: case STORE_FP | 3: { // FSW, FSD
        if (fpOff()) { illegal(insn); break; }
        const va = rX(h, rs1) + immS(insn);
        if (insn & 0x1000) stFast<u64>(va, getF(rs2), n);
        else stFast<u32>(va, <u32>getF(rs2), n);
        break;
      }
      case OP_FP: case OP_FP | 1: case OP_FP | 2: case OP_FP | 3:
      case OP_FP | 4: case OP_FP | 5: case OP_FP | 6: case OP_FP | 7:
      case MADD: case MADD | 1: case MADD | 2: case MADD | 3: case MADD | 4: case MADD | 5: case MADD | 6: case MADD | 7:
      case MSUB: case MSUB | 1: case MSUB | 2: case MSUB | 3: case MSUB | 4: case MSUB | 5: case MSUB | 6: case MSUB | 7:
      case NMSUB: case NMSUB | 1: case NMSUB | 2: case NMSUB | 3:
      case NMSUB | 4: case NMSUB | 5: case NMSUB | 6: case NMSUB | 7:
      case NMADD: case NMADD | 1: case NMADD | 2: case NMADD | 3:
      case NMADD | 4: case NMADD | 5: case NMADD | 6: case NMADD | 7:
        if (!execFp(insn)) illegal(insn);
        break;
      default:
        illegal(insn);
    }
    if (load<u32>(h, H_ATTENTION)) {
      if (excPending) {
        const cause = excCause, tval = excTval;
        clearEvents();
        if (cause == CAUSE_RETRY) { // an MMIO exit: run the instruction again when the root has completed it
          reason = Exit.HOST;
          break;
        }
        pc = enterTrap(cause, tval, pc, false);
        fPage = 1;
        trapTaken = true; // retires nothing but is a step
        break;
      }
      pc = next;
      n++;
      if (reason == Exit.WFI) {
        clearEvents();
        break;
      }
      // A resync, an exit request, or a kick from another thread (an
      // interrupt line it raised): look at interrupts again either way.
      const leave = exitRequested;
      fPage = 1;
      clearEvents();
      // The scheduler wants this pCPU for a vCPU another thread woke
      // (sched/pcpu.ts, preemptFor): the chunk ends here, and a pending
      // interrupt is taken when this vCPU next runs (run() looks first).
      if (!leave && atomic.load<u32>(h + H_PREEMPT) != 0) break;
      // With the budget spent, a pending interrupt waits for the next slice.
      const irq = n < budget ? pendingInterrupt() : -1;
      if (irq >= 0) pc = enterTrap(<u32>irq, 0, pc, true);
      if (leave) {
        reason = Exit.HOST;
        break;
      }
      if (irq >= 0) {
        trapTaken = true;
        break;
      }
      continue;
    }
    // A taken branch or jump starts a block: translated code may go on
    // from there (jit/dispatch.ts). `next - pc > 4` is false for fall-through.
    if (next - pc > 4 && jitMode != JIT_OFF) {
      n = jitEnter(next, n + 1, budget);
      pc = jitPc;
      continue;
    }
    pc = next;
    n++;
  }
  if (!trapTaken) break;
  trapTaken = false;
  budget--; // the trap's step (taken with n < budget, so n <= budget still)
  } // for (;;)
  store<u64>(hart, pc, H_PC);
  store<u64>(hart, instret0 + n, H_INSTRET);
  store<u32>(hart, reason, H_EXIT);
  mmLeave();
  return reason;
}

// ---- helpers kept out of the loop body --------------------------------------

/** Illegal instruction: mtval holds the instruction bits (as QEMU does). */
function illegal(insn: u32): void {
  if (!excPending) raise(Cause.ILLEGAL_INSN, insn);
}

const SYS_NEXT: u32 = 0; // continue at pc + 4
const SYS_JUMP: u32 = 1; // continue at sysTarget
const SYS_WFI: u32 = 2; // stall until an interrupt
let sysTarget: u64 = 0;

/** ECALL, EBREAK, xRET, WFI, SFENCE.VMA (SYSTEM with funct3 = 0). */
function system(insn: u32, pc: u64): u32 {
  const priv = load<u32>(hart, H_PRIV);
  const ms = load<u64>(hart, H_MSTATUS);
  if (insn == 0x0000_0073) { // ECALL
    // Enlightened partitions: the hypervisor is the SBI firmware (hypercall/).
    if (priv == PRIV_S && enlightened()) {
      const r = sbiEcall(pc);
      if (r == SBI_NEXT) return SYS_NEXT;
      if (r == SBI_SUSPEND) return SYS_WFI;
      sysTarget = pc; // SBI_RETRY: execute the ECALL again once the host has run
      return SYS_JUMP;
    }
    raise(Cause.ECALL_U + priv, 0);
    return SYS_NEXT;
  }
  if (insn == 0x0010_0073) { // EBREAK
    raise(Cause.BREAKPOINT, pc);
    return SYS_NEXT;
  }
  if (insn == 0x3020_0073) { // MRET
    if (priv != PRIV_M) { illegal(insn); return SYS_NEXT; }
    sysTarget = mret();
    requestResyncAfterReturn();
    return SYS_JUMP;
  }
  if (insn == 0x1020_0073) { // SRET
    if (priv == PRIV_U || (priv == PRIV_S && ms & MS_TSR)) { illegal(insn); return SYS_NEXT; }
    sysTarget = sret();
    requestResyncAfterReturn();
    return SYS_JUMP;
  }
  if (insn == 0x1050_0073) { // WFI
    if (priv == PRIV_U || (priv == PRIV_S && ms & MS_TW)) { illegal(insn); return SYS_NEXT; }
    if (!wakeupPending()) return SYS_WFI;
    // An interrupt is pending and enabled in mie: WFI retires and, if it is
    // globally enabled, the trap is taken now, after the WFI (mepc = pc + 4).
    requestResync();
    return SYS_NEXT;
  }
  if ((insn >> 25) == 0x09 && ((insn >> 7) & 31) == 0) { // SFENCE.VMA
    if (priv == PRIV_U || (priv == PRIV_S && ms & MS_TVM)) { illegal(insn); return SYS_NEXT; }
    // Precise: by address (rs1 != x0) and/or ASID (rs2 != x0), mmu/tlb.ts.
    const rs1 = (insn >> 15) & 31;
    const rs2 = (insn >> 20) & 31;
    tlbFence(getX(rs1), rs1 != 0, <u32>getX(rs2), rs2 != 0);
    requestResyncAfterReturn();
    return SYS_NEXT;
  }
  illegal(insn);
  return SYS_NEXT;
}

import { requestResync } from './exception';
@inline function requestResyncAfterReturn(): void {
  requestResync();
}

/** CSRRW/S/C and their immediate forms (Zicsr). */
function csrOp(insn: u32, rd: u32, rs1: u32, f3: u32): void {
  const csr = insn >> 20;
  const src: u64 = f3 & 4 ? <u64>rs1 : getX(rs1);
  const op = f3 & 3; // 1 RW, 2 RS, 3 RC
  const writes = op == 1 || rs1 != 0;
  if (!csrAccessible(csr, writes)) { illegal(insn); return; }
  const old = csrRead(csr);
  if (csrIllegal) { illegal(insn); return; }
  if (writes) {
    const base = csrRmwBase(csr, old);
    csrWrite(csr, op == 1 ? src : op == 2 ? base | src : base & ~src);
  }
  setX(rd, old);
}

/**
 * One AMO read-modify-write at host address `p` on unsigned type T (S is its
 * signed twin for AMOMIN/AMOMAX); returns the old value.
 */
@inline function amoRmw<T, S>(p: usize, f5: u32, v: T): T {
  switch (f5) {
    case 0x01: return atomic.xchg<T>(p, v);
    case 0x00: return atomic.add<T>(p, v);
    case 0x04: return atomic.xor<T>(p, v);
    case 0x0c: return atomic.and<T>(p, v);
    case 0x08: return atomic.or<T>(p, v);
    case 0x10: case 0x14: case 0x18: case 0x1c: {
      for (;;) {
        const o = atomic.load<T>(p);
        let pick: bool;
        if (f5 == 0x10) pick = <S>v < <S>o; // AMOMIN
        else if (f5 == 0x14) pick = <S>v > <S>o; // AMOMAX
        else if (f5 == 0x18) pick = v < o; // AMOMINU
        else pick = v > o; // AMOMAXU
        if (atomic.cmpxchg<T>(p, o, pick ? v : o) == o) return o;
      }
    }
  }
  return 0; // funct5 was validated by amo()
}

/** The funct5 values of the A extension (LR, SC and the nine AMOs). */
const AMO_FUNCT5: u32 = (1 << 0x00) | (1 << 0x01) | (1 << 0x02) | (1 << 0x03) | (1 << 0x04) | (1 << 0x08) |
  (1 << 0x0c) | (1 << 0x10) | (1 << 0x14) | (1 << 0x18) | (1 << 0x1c);

/** A extension: LR/SC and AMOs on naturally aligned RAM, atomically. */
function amo(insn: u32, rd: u32, rs1: u32, rs2: u32, f3: u32): void {
  if (f3 != 2 && f3 != 3) { illegal(insn); return; }
  const f5 = insn >> 27;
  if (!((AMO_FUNCT5 >> f5) & 1)) { illegal(insn); return; } // decode faults come before memory faults
  const va = getX(rs1);
  const size: u32 = f3 == 2 ? 4 : 8;
  if (f5 == 0x02) { // LR
    if (rs2 != 0) { illegal(insn); return; }
    const h = amoAddress(va, size, ACC_LOAD);
    if (h < 0) return;
    const v: u64 = size == 4 ? sext32(<u64>atomic.load<u32>(<usize>h)) : atomic.load<u64>(<usize>h);
    store<u64>(hart, <u64>h, H_RESV_ADDR);
    store<u64>(hart, v, H_RESV_VALUE);
    setX(rd, v);
    return;
  }
  const h = amoAddress(va, size, ACC_STORE);
  if (h < 0) return;
  const b = getX(rs2);
  if (f5 == 0x03) { // SC: succeeds only on our reservation with the value unchanged
    const resv = load<u64>(hart, H_RESV_ADDR);
    const expect = load<u64>(hart, H_RESV_VALUE);
    store<u64>(hart, ~<u64>0, H_RESV_ADDR);
    let ok = false;
    if (resv == <u64>h) {
      ok = size == 4
        ? atomic.cmpxchg<u32>(<usize>h, <u32>expect, <u32>b) == <u32>expect
        : atomic.cmpxchg<u64>(<usize>h, expect, b) == expect;
    }
    setX(rd, ok ? 0 : 1);
    return;
  }
  const old: u64 = size == 4
    ? sext32(<u64>amoRmw<u32, i32>(<usize>h, f5, <u32>b))
    : amoRmw<u64, i64>(<usize>h, f5, b);
  setX(rd, old);
}

