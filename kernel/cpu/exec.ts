// The interpreter: fetch, decode and execute until the slice's instruction
// budget is spent or something needs the host.
//
// Hot-path rules: no calls across the wasm boundary, no allocation, pc and
// the fetch page cached in locals, one `attention` test per instruction.
// Compressed instructions are expanded by a table load (rvc.ts) and share
// the 32-bit decoder.
import {
  hart, Exit, H_ATTENTION, H_EXIT, H_FCSR, H_INSTRET, H_MSTATUS, H_PC, H_PRIV, H_RESV_ADDR, H_RESV_VALUE, H_WFI,
  getF, getX, setF, setX,
} from './hart';
import { Cause, MS_FS, MS_TSR, MS_TVM, MS_TW, PRIV_M, PRIV_S, PRIV_U } from './defs';
import {
  excCause, excPending, excTval, exitRequested, raise, requestResync, resyncPending, clearEvents,
} from './exception';
import { csrAccessible, csrIllegal, csrRead, csrWrite } from './csr';
import { enterTrap, mret, sret } from './trap';
import { pendingInterrupt, wakeupPending } from './interrupts';
import { div32, div64, divu32, divu64, mulh, mulhsu, mulhu, rem32, rem64, remu32, remu64 } from './muldiv';
import { execFp } from './fpu/exec';
import { RVC_TABLE } from '../layout';
import { amoAddress, fetchAddend, fetchPage, fetchSlow, ldFast, setSliceBase, stFast, updateKeys } from '../mmu/access';
import { ACC_LOAD, ACC_STORE, tlbFlushAll } from '../mmu/tlb';

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

@inline function rX(h: usize, r: u32): u64 {
  return load<u64>(h + (r << 3));
}
/** x0 is hardwired to zero: write, then re-zero (cheaper than a branch). */
@inline function wX(h: usize, r: u32, v: u64): void {
  store<u64>(h + (r << 3), v);
  store<u64>(h, 0);
}

const NAN_BOX: u64 = 0xffff_ffff_0000_0000;

/**
 * Runs the current hart for at most `budget` instructions. Returns the exit
 * reason (see Exit) and leaves pc and instret in the hart block.
 */
export function run(budget: u32): u32 {
  const h = hart; // the register file, kept in a local (globals cost a load)
  let pc = load<u64>(h, H_PC);
  const instret0 = load<u64>(hart, H_INSTRET);
  let n: u32 = 0;
  setSliceBase(instret0);
  let fPage: u64 = 1; // page of pc the loop may fetch from directly (1 = none)
  let fAdd: u32 = 0;
  let reason = Exit.BUDGET;

  clearEvents();
  updateKeys();
  store<u32>(hart, 0, H_WFI);
  const first = pendingInterrupt();
  if (first >= 0) pc = enterTrap(<u32>first, 0, pc, true);

  while (n < budget) {
    // ---- fetch ----
    let insn: u32;
    if (((pc + 2) & ~<u64>0xfff) == fPage) {
      insn = load<u32>(<usize>(<u32>pc + fAdd)); // upper half is garbage for a 16-bit insn
    } else {
      insn = fetchSlow(pc);
      if (excPending) {
        clearEvents();
        pc = enterTrap(excCause, excTval, pc, false);
        continue;
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
    const f3 = (insn >> 12) & 7;
    // Dispatch on the 5-bit major opcode (bits 6:2; bits 1:0 are 11 here):
    // dense case values compile to one br_table rather than a compare chain.
    switch ((insn >> 2) & 0x1f) {
      case 0x0d: // LUI
        wX(h, rd, sext32(insn & 0xffff_f000));
        break;
      case 0x05: // AUIPC
        wX(h, rd, pc + sext32(insn & 0xffff_f000));
        break;
      case 0x1b: // JAL
        wX(h, rd, next);
        next = pc + immJ(insn);
        break;
      case 0x19: { // JALR
        if (f3 != 0) { illegal(insn); break; }
        const t = (rX(h, rs1) + immI(insn)) & ~<u64>1;
        wX(h, rd, next);
        next = t;
        break;
      }
      case 0x18: { // BRANCH
        const a = rX(h, rs1), b = rX(h, rs2);
        let taken: bool;
        switch (f3) {
          case 0: taken = a == b; break;
          case 1: taken = a != b; break;
          case 4: taken = <i64>a < <i64>b; break;
          case 5: taken = <i64>a >= <i64>b; break;
          case 6: taken = a < b; break;
          case 7: taken = a >= b; break;
          default: taken = false; illegal(insn);
        }
        if (taken) next = pc + immB(insn);
        break;
      }
      case 0x00: { // LOAD
        const va = rX(h, rs1) + immI(insn);
        let v: u64;
        switch (f3) {
          case 0: v = <u64>(<i64>ldFast<i8>(va, n)); break;
          case 1: v = <u64>(<i64>ldFast<i16>(va, n)); break;
          case 2: v = <u64>(<i64>ldFast<i32>(va, n)); break;
          case 3: v = ldFast<u64>(va, n); break;
          case 4: v = <u64>ldFast<u8>(va, n); break;
          case 5: v = <u64>ldFast<u16>(va, n); break;
          case 6: v = <u64>ldFast<u32>(va, n); break;
          default: v = 0; illegal(insn);
        }
        if (!excPending) wX(h, rd, v);
        break;
      }
      case 0x08: { // STORE
        const va = rX(h, rs1) + immS(insn);
        const v = rX(h, rs2);
        switch (f3) {
          case 0: stFast<u8>(va, <u8>v, n); break;
          case 1: stFast<u16>(va, <u16>v, n); break;
          case 2: stFast<u32>(va, <u32>v, n); break;
          case 3: stFast<u64>(va, v, n); break;
          default: illegal(insn);
        }
        break;
      }
      case 0x04: { // OP-IMM
        const a = rX(h, rs1);
        const imm = immI(insn);
        const sh = imm & 63;
        switch (f3) {
          case 0: wX(h, rd, a + imm); break;
          case 1: if (insn >> 26) illegal(insn); else wX(h, rd, a << sh); break;
          case 2: wX(h, rd, <i64>a < <i64>imm ? 1 : 0); break;
          case 3: wX(h, rd, a < imm ? 1 : 0); break;
          case 4: wX(h, rd, a ^ imm); break;
          case 5: {
            const f6 = insn >> 26;
            if (f6 == 0) wX(h, rd, a >> sh);
            else if (f6 == 0x10) wX(h, rd, <u64>(<i64>a >> <i64>sh));
            else illegal(insn);
            break;
          }
          case 6: wX(h, rd, a | imm); break;
          default: wX(h, rd, a & imm);
        }
        break;
      }
      case 0x06: { // OP-IMM-32
        const a = <u32>rX(h, rs1);
        const sh = rs2; // shamt[4:0]
        const f7 = insn >> 25;
        if (f3 == 0) wX(h, rd, sext32(<u64>(a + <u32>immI(insn))));
        else if (f3 == 1 && f7 == 0) wX(h, rd, sext32(<u64>(a << sh)));
        else if (f3 == 5 && f7 == 0) wX(h, rd, sext32(<u64>(a >> sh)));
        else if (f3 == 5 && f7 == 0x20) wX(h, rd, <u64>(<i64>(<i32>a >> sh)));
        else illegal(insn);
        break;
      }
      case 0x0c: { // OP
        const a = rX(h, rs1), b = rX(h, rs2);
        const f7 = insn >> 25;
        if (f7 == 0) {
          switch (f3) {
            case 0: wX(h, rd, a + b); break;
            case 1: wX(h, rd, a << (b & 63)); break;
            case 2: wX(h, rd, <i64>a < <i64>b ? 1 : 0); break;
            case 3: wX(h, rd, a < b ? 1 : 0); break;
            case 4: wX(h, rd, a ^ b); break;
            case 5: wX(h, rd, a >> (b & 63)); break;
            case 6: wX(h, rd, a | b); break;
            default: wX(h, rd, a & b);
          }
        } else if (f7 == 1) {
          switch (f3) {
            case 0: wX(h, rd, a * b); break;
            case 1: wX(h, rd, mulh(a, b)); break;
            case 2: wX(h, rd, mulhsu(a, b)); break;
            case 3: wX(h, rd, mulhu(a, b)); break;
            case 4: wX(h, rd, div64(a, b)); break;
            case 5: wX(h, rd, divu64(a, b)); break;
            case 6: wX(h, rd, rem64(a, b)); break;
            default: wX(h, rd, remu64(a, b));
          }
        } else if (f7 == 0x20 && f3 == 0) wX(h, rd, a - b);
        else if (f7 == 0x20 && f3 == 5) wX(h, rd, <u64>(<i64>a >> <i64>(b & 63)));
        else illegal(insn);
        break;
      }
      case 0x0e: { // OP-32
        const a = <u32>rX(h, rs1), b = <u32>rX(h, rs2);
        const f7 = insn >> 25;
        if (f7 == 0) {
          if (f3 == 0) wX(h, rd, sext32(<u64>(a + b)));
          else if (f3 == 1) wX(h, rd, sext32(<u64>(a << (b & 31))));
          else if (f3 == 5) wX(h, rd, sext32(<u64>(a >> (b & 31))));
          else illegal(insn);
        } else if (f7 == 1) {
          switch (f3) {
            case 0: wX(h, rd, sext32(<u64>(a * b))); break;
            case 4: wX(h, rd, sext32(<u64>div32(a, b))); break;
            case 5: wX(h, rd, sext32(<u64>divu32(a, b))); break;
            case 6: wX(h, rd, sext32(<u64>rem32(a, b))); break;
            case 7: wX(h, rd, sext32(<u64>remu32(a, b))); break;
            default: illegal(insn);
          }
        } else if (f7 == 0x20 && f3 == 0) wX(h, rd, sext32(<u64>(a - b)));
        else if (f7 == 0x20 && f3 == 5) wX(h, rd, <u64>(<i64>(<i32>a >> (b & 31))));
        else illegal(insn);
        break;
      }
      case 0x03: // MISC-MEM: FENCE (memory is sequentially consistent here), FENCE.I
        if (f3 > 1) illegal(insn);
        // Nothing is cached from guest code yet; a decoded-block cache or JIT
        // invalidates on fence.i here.
        break;
      case 0x1c: // SYSTEM
        if (f3 == 0) {
          const r = system(insn, pc);
          if (r == SYS_WFI) {
            pc = next;
            n++;
            reason = Exit.WFI;
            store<u32>(hart, 1, H_WFI);
            break;
          }
          if (r == SYS_JUMP) next = sysTarget;
        } else if (f3 == 4) {
          illegal(insn);
        } else {
          store<u64>(hart, instret0 + n, H_INSTRET); // counters read exactly
          csrOp(insn, rd, rs1, f3);
        }
        break;
      case 0x0b: // AMO
        amo(insn, rd, rs1, rs2, f3);
        break;
      case 0x01: { // LOAD-FP
        if (fpOff() || (f3 != 2 && f3 != 3)) { illegal(insn); break; }
        const va = rX(h, rs1) + immI(insn);
        const v: u64 = f3 == 2 ? NAN_BOX | <u64>ldFast<u32>(va, n) : ldFast<u64>(va, n);
        if (!excPending) {
          setF(rd, v);
          fpDirty();
        }
        break;
      }
      case 0x09: { // STORE-FP
        if (fpOff() || (f3 != 2 && f3 != 3)) { illegal(insn); break; }
        const va = rX(h, rs1) + immS(insn);
        if (f3 == 2) stFast<u32>(va, <u32>getF(rs2), n);
        else stFast<u64>(va, getF(rs2), n);
        break;
      }
      case 0x14: case 0x10: case 0x11: case 0x12: case 0x13: // OP-FP, F[N]MADD/SUB
        if (!execFp(insn)) illegal(insn);
        break;
      default:
        illegal(insn);
    }
    if (reason != Exit.BUDGET) break;

    if (load<u32>(h, H_ATTENTION)) {
      if (excPending) {
        const cause = excCause, tval = excTval;
        clearEvents();
        pc = enterTrap(cause, tval, pc, false);
        fPage = 1;
        continue;
      }
      pc = next;
      n++;
      const leave = exitRequested;
      if (resyncPending) {
        fPage = 1;
        clearEvents();
        const irq = pendingInterrupt();
        if (irq >= 0) pc = enterTrap(<u32>irq, 0, pc, true);
      }
      clearEvents();
      if (leave) {
        reason = Exit.HOST;
        break;
      }
      continue;
    }
    pc = next;
    n++;
  }
  store<u64>(hart, pc, H_PC);
  store<u64>(hart, instret0 + n, H_INSTRET);
  store<u32>(hart, reason, H_EXIT);
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
    return wakeupPending() ? SYS_NEXT : SYS_WFI;
  }
  if ((insn >> 25) == 0x09 && ((insn >> 7) & 31) == 0) { // SFENCE.VMA
    if (priv == PRIV_U || (priv == PRIV_S && ms & MS_TVM)) { illegal(insn); return SYS_NEXT; }
    // Our TLB caches superpages as 4 KiB pieces, so a by-address fence
    // cannot find them all: flush everything.
    tlbFlushAll();
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
  if (writes) csrWrite(csr, op == 1 ? src : op == 2 ? old | src : old & ~src);
  setX(rd, old);
}

/** A extension: LR/SC and AMOs on naturally aligned RAM, atomically. */
function amo(insn: u32, rd: u32, rs1: u32, rs2: u32, f3: u32): void {
  if (f3 != 2 && f3 != 3) { illegal(insn); return; }
  const f5 = insn >> 27;
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
  let old: u64;
  if (size == 4) {
    const p = <usize>h;
    const v = <u32>b;
    let o: u32;
    switch (f5) {
      case 0x01: o = atomic.xchg<u32>(p, v); break;
      case 0x00: o = atomic.add<u32>(p, v); break;
      case 0x04: o = atomic.xor<u32>(p, v); break;
      case 0x0c: o = atomic.and<u32>(p, v); break;
      case 0x08: o = atomic.or<u32>(p, v); break;
      case 0x10: case 0x14: case 0x18: case 0x1c: {
        do {
          o = atomic.load<u32>(p);
          let pick: bool;
          if (f5 == 0x10) pick = <i32>v < <i32>o;
          else if (f5 == 0x14) pick = <i32>v > <i32>o;
          else if (f5 == 0x18) pick = v < o;
          else pick = v > o;
          if (atomic.cmpxchg<u32>(p, o, pick ? v : o) == o) break;
        } while (true);
        break;
      }
      default: illegal(insn); return;
    }
    old = sext32(<u64>o);
  } else {
    const p = <usize>h;
    switch (f5) {
      case 0x01: old = atomic.xchg<u64>(p, b); break;
      case 0x00: old = atomic.add<u64>(p, b); break;
      case 0x04: old = atomic.xor<u64>(p, b); break;
      case 0x0c: old = atomic.and<u64>(p, b); break;
      case 0x08: old = atomic.or<u64>(p, b); break;
      case 0x10: case 0x14: case 0x18: case 0x1c: {
        do {
          old = atomic.load<u64>(p);
          let pick: bool;
          if (f5 == 0x10) pick = <i64>b < <i64>old;
          else if (f5 == 0x14) pick = <i64>b > <i64>old;
          else if (f5 == 0x18) pick = b < old;
          else pick = b > old;
          if (atomic.cmpxchg<u64>(p, old, pick ? b : old) == old) break;
        } while (true);
        break;
      }
      default: illegal(insn); return;
    }
  }
  setX(rd, old);
}

