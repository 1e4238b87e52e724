// The C extension: every 16-bit encoding expands to the 32-bit instruction
// it stands for (unprivileged spec chapter 16), so the interpreter executes
// one instruction set. The expansion of all 65536 encodings is computed once
// into RVC_TABLE (256 KiB, shared and read-only), making a compressed
// instruction one table load. 0 marks an illegal or reserved encoding.
import { RVC_TABLE } from '../layout';

@inline function bit(x: u32, hi: u32, lo: u32): u32 {
  return (x >> lo) & ((1 << (hi - lo + 1)) - 1);
}
@inline function sext(v: u32, bits: u32): i32 {
  return (<i32>(v << (32 - bits))) >> (32 - bits);
}

// 32-bit instruction formats.
@inline function iType(op: u32, rd: u32, f3: u32, rs1: u32, imm: i32): u32 {
  return ((<u32>imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
}
@inline function sType(op: u32, f3: u32, rs1: u32, rs2: u32, imm: i32): u32 {
  const u = <u32>imm;
  return (bit(u, 11, 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (bit(u, 4, 0) << 7) | op;
}
@inline function rType(op: u32, rd: u32, f3: u32, rs1: u32, rs2: u32, f7: u32): u32 {
  return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
}
@inline function bType(f3: u32, rs1: u32, rs2: u32, imm: i32): u32 {
  const u = <u32>imm;
  return (bit(u, 12, 12) << 31) | (bit(u, 10, 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) |
    (bit(u, 4, 1) << 8) | (bit(u, 11, 11) << 7) | 0x63;
}
@inline function jType(rd: u32, imm: i32): u32 {
  const u = <u32>imm;
  return (bit(u, 20, 20) << 31) | (bit(u, 10, 1) << 21) | (bit(u, 11, 11) << 20) | (bit(u, 19, 12) << 12) |
    (rd << 7) | 0x6f;
}

const OP_LOAD: u32 = 0x03;
const OP_LOAD_FP: u32 = 0x07;
const OP_IMM: u32 = 0x13;
const OP_IMM_32: u32 = 0x1b;
const OP_STORE: u32 = 0x23;
const OP_STORE_FP: u32 = 0x27;
const OP: u32 = 0x33;
const OP_LUI: u32 = 0x37;
const OP_32: u32 = 0x3b;
const OP_JALR: u32 = 0x67;
const EBREAK: u32 = 0x0010_0073;

/** The 32-bit expansion of compressed instruction `c`, or 0 if illegal. */
export function expand(c: u32): u32 {
  const f3 = bit(c, 15, 13);
  const rdp = bit(c, 4, 2) + 8; // rd' / rs2'
  const rs1p = bit(c, 9, 7) + 8; // rs1' / rd'
  const rd = bit(c, 11, 7);
  const rs2 = bit(c, 6, 2);
  const imm6 = sext((bit(c, 12, 12) << 5) | bit(c, 6, 2), 6);
  switch (c & 3) {
    case 0: {
      const ldOff = (bit(c, 12, 10) << 3) | (bit(c, 6, 5) << 6); // C.LD, C.FLD, C.SD, C.FSD
      const lwOff = (bit(c, 12, 10) << 3) | (bit(c, 6, 6) << 2) | (bit(c, 5, 5) << 6); // C.LW, C.SW
      switch (f3) {
        case 0: { // C.ADDI4SPN
          const imm = (bit(c, 12, 11) << 4) | (bit(c, 10, 7) << 6) | (bit(c, 6, 6) << 2) | (bit(c, 5, 5) << 3);
          return imm == 0 ? 0 : iType(OP_IMM, rdp, 0, 2, imm);
        }
        case 1: return iType(OP_LOAD_FP, rdp, 3, rs1p, ldOff);
        case 2: return iType(OP_LOAD, rdp, 2, rs1p, lwOff);
        case 3: return iType(OP_LOAD, rdp, 3, rs1p, ldOff);
        case 5: return sType(OP_STORE_FP, 3, rs1p, rdp, ldOff);
        case 6: return sType(OP_STORE, 2, rs1p, rdp, lwOff);
        case 7: return sType(OP_STORE, 3, rs1p, rdp, ldOff);
      }
      return 0;
    }
    case 1:
      switch (f3) {
        case 0: return iType(OP_IMM, rd, 0, rd, imm6); // C.ADDI (C.NOP)
        case 1: return rd == 0 ? 0 : iType(OP_IMM_32, rd, 0, rd, imm6); // C.ADDIW
        case 2: return iType(OP_IMM, rd, 0, 0, imm6); // C.LI
        case 3: {
          if (rd == 2) { // C.ADDI16SP
            const imm = sext((bit(c, 12, 12) << 9) | (bit(c, 6, 6) << 4) | (bit(c, 5, 5) << 6) |
              (bit(c, 4, 3) << 7) | (bit(c, 2, 2) << 5), 10);
            return imm == 0 ? 0 : iType(OP_IMM, 2, 0, 2, imm);
          }
          if (imm6 == 0) return 0; // C.LUI with nzimm = 0 is reserved
          return ((<u32>imm6 << 12) & 0xffff_f000) | (rd << 7) | OP_LUI;
        }
        case 4: {
          const shamt = (bit(c, 12, 12) << 5) | bit(c, 6, 2);
          switch (bit(c, 11, 10)) {
            case 0: return iType(OP_IMM, rs1p, 5, rs1p, shamt); // C.SRLI
            case 1: return iType(OP_IMM, rs1p, 5, rs1p, shamt | 0x400); // C.SRAI
            case 2: return iType(OP_IMM, rs1p, 7, rs1p, imm6); // C.ANDI
          }
          const f2 = bit(c, 6, 5);
          if (bit(c, 12, 12) == 0) {
            if (f2 == 0) return rType(OP, rs1p, 0, rs1p, rdp, 0x20); // C.SUB
            if (f2 == 1) return rType(OP, rs1p, 4, rs1p, rdp, 0); // C.XOR
            if (f2 == 2) return rType(OP, rs1p, 6, rs1p, rdp, 0); // C.OR
            return rType(OP, rs1p, 7, rs1p, rdp, 0); // C.AND
          }
          if (f2 == 0) return rType(OP_32, rs1p, 0, rs1p, rdp, 0x20); // C.SUBW
          if (f2 == 1) return rType(OP_32, rs1p, 0, rs1p, rdp, 0); // C.ADDW
          return 0;
        }
        case 5: { // C.J
          const imm = sext((bit(c, 12, 12) << 11) | (bit(c, 11, 11) << 4) | (bit(c, 10, 9) << 8) |
            (bit(c, 8, 8) << 10) | (bit(c, 7, 7) << 6) | (bit(c, 6, 6) << 7) | (bit(c, 5, 3) << 1) |
            (bit(c, 2, 2) << 5), 12);
          return jType(0, imm);
        }
        default: { // C.BEQZ, C.BNEZ
          const imm = sext((bit(c, 12, 12) << 8) | (bit(c, 11, 10) << 3) | (bit(c, 6, 5) << 6) |
            (bit(c, 4, 3) << 1) | (bit(c, 2, 2) << 5), 9);
          return bType(f3 == 6 ? 0 : 1, rs1p, 0, imm);
        }
      }
    case 2: {
      const ldspOff = (bit(c, 12, 12) << 5) | (bit(c, 6, 5) << 3) | (bit(c, 4, 2) << 6);
      const sdspOff = (bit(c, 12, 10) << 3) | (bit(c, 9, 7) << 6);
      switch (f3) {
        case 0: return iType(OP_IMM, rd, 1, rd, (bit(c, 12, 12) << 5) | bit(c, 6, 2)); // C.SLLI
        case 1: return iType(OP_LOAD_FP, rd, 3, 2, ldspOff); // C.FLDSP
        case 2: { // C.LWSP
          if (rd == 0) return 0;
          return iType(OP_LOAD, rd, 2, 2, (bit(c, 12, 12) << 5) | (bit(c, 6, 4) << 2) | (bit(c, 3, 2) << 6));
        }
        case 3: return rd == 0 ? 0 : iType(OP_LOAD, rd, 3, 2, ldspOff); // C.LDSP
        case 4:
          if (bit(c, 12, 12) == 0) {
            if (rs2 == 0) return rd == 0 ? 0 : iType(OP_JALR, 0, 0, rd, 0); // C.JR
            return rType(OP, rd, 0, 0, rs2, 0); // C.MV
          }
          if (rs2 == 0) return rd == 0 ? EBREAK : iType(OP_JALR, 1, 0, rd, 0); // C.EBREAK, C.JALR
          return rType(OP, rd, 0, rd, rs2, 0); // C.ADD
        case 5: return sType(OP_STORE_FP, 3, 2, rs2, sdspOff); // C.FSDSP
        case 6: return sType(OP_STORE, 2, 2, rs2, (bit(c, 12, 9) << 2) | (bit(c, 8, 7) << 6)); // C.SWSP
        case 7: return sType(OP_STORE, 3, 2, rs2, sdspOff); // C.SDSP
      }
      return 0;
    }
  }
  return 0; // quadrant 3 is not compressed
}

/** Fills RVC_TABLE; run once at host boot, before any vCPU runs. */
export function buildRvcTable(): void {
  for (let c: u32 = 0; c < 0x10000; c++) store<u32>(RVC_TABLE + (c << 2), expand(c));
}
