// RISC-V (RV64I + M, the integer subset) to WebAssembly: one region — the
// basic blocks reachable from an entry pc without leaving its 4 KiB page —
// becomes one function (h: hart block, budget: steps left, key: data TLB
// key) -> steps retired (bit 31 set when it left at a jump's target, which
// the dispatcher follows into the next region: kernel/jit/dispatch.ts), the
// exit pc stored at h + H_PC.
//
// Inside, guest registers are wasm locals (loaded at entry, the written ones
// stored at the one exit). Blocks are laid out in guest address order as
// nested wasm blocks: a forward branch is a `br` to its target's label, a
// backward one goes through a loop + br_table, so a loop inside the page
// never leaves the function. Each block first checks the budget (the region
// stops before a block it could not finish, so a slice ends on the same
// instruction as in the interpreter); the region's entry and every target of
// a backward branch also read the vCPU's attention word (a kick, a shootdown
// request: the interpreter answers), which bounds the delay by one pass
// through the region's straight-line code.
// Loads and stores do the software TLB's compare inline (mmu/tlb.ts); on a
// miss the region stops before the access and the interpreter performs it
// (walk, fill, MMIO, fault), precisely. F/D loads and stores are inline
// too (f registers stay in the hart block); F/D arithmetic calls the
// interpreter's own implementation (kernel/jit/helpers.ts jitFp), so results
// and fflags are the interpreter's bit for bit. Anything else not translated
// here (CSRs, system, atomics) ends the block the same way.
import { ByteWriter, I32, I64, moduleWithFunctions, type ImportSpec } from './wasm.ts';

/** vCPU block offsets the generated code uses (kernel/cpu/hart.ts, mmu/tlb.ts). */
export interface HartOffsets {
  pc: number;
  attention: number;
  tlb: number;
  /** f0..f31, 8 bytes each. */
  f: number;
  mstatus: number;
}

/** Kernel functions every region imports (function index = position; kernel/jit/helpers.ts). */
export const REGION_IMPORTS = [{ name: 'fp', params: [I32], results: [I32] }];
const CALL = 0x10, FN_FP = 0;
const MS_FS = 3n << 13n;
const NAN_BOX = 0xffff_ffff_0000_0000n;
/** OP-FP funct5s that read x[rs1] (fcvt.s/d.*, fmv.w/d.x) and that write x[rd] (compares, fcvt.*.s/d, fmv.x.*, fclass). */
const FP_READS_X = new Set([0x1a, 0x1e]);
const FP_WRITES_X = new Set([0x14, 0x18, 0x1c]);

/** One translated region: the body of a function of signature REGION_SIG (put in a module by regionModule). */
export interface Region {
  body: Uint8Array;
  blocks: number;
  insns: number;
}

/** (h: hart block, budget: steps left, key: data TLB key) -> steps retired | CHAINED. */
const REGION_SIG = { params: [I32, I32, I64], results: [I32] };

/** One module holding `regions` (exports f0, f1, ... in that order). */
export function regionModule(regions: readonly Region[]): Uint8Array {
  return moduleWithFunctions(
    REGION_SIG,
    regions.map((r) => ({ locals: LOCALS, body: r.body })),
    { min: 1, max: 65536 },
    REGION_IMPORTS as ImportSpec[],
  );
}

const PAGE = 0x1000;
const MAX_BLOCKS = 256;
const MAX_INSNS = 1024;
const TLB_TABLE = 4096; // 256 entries x 16 bytes, per access type
const ACC_LOAD = 1;
const ACC_STORE = 2;

// Locals: params 0 h, 1 budget, 2 key; x1..x31 at 2 + r; then these.
const L_H = 0, L_BUDGET = 1, L_KEY = 2;
const L_N = 34, L_BLK = 35, L_VA = 36, L_E = 37, L_EXIT = 38, L_T = 39, L_CHAIN = 40, L_P = 41, L_Q = 42;
const LOCALS: [number, number][] = [[31, I64], [2, I32], [1, I64], [1, I32], [2, I64], [1, I32], [2, I64]];
/** The result's bit 31: the region left at a jump's target (L_CHAIN). */
const CHAINED_SHIFT = 31;

// Opcodes.
const BLOCK = 0x02, LOOP = 0x03, IF = 0x04, ELSE = 0x05, END = 0x0b, BR = 0x0c, BR_TABLE = 0x0e;
const LGET = 0x20, LSET = 0x21;
const I32_LOAD = 0x28, I64_LOAD = 0x29, I32_STORE = 0x36, I64_STORE = 0x37;
const I32_CONST = 0x41, I64_CONST = 0x42;
const I32_EQZ = 0x45, I32_EQ = 0x46, I32_GT_U = 0x4b;
const I64_EQZ = 0x50, I64_EQ = 0x51, I64_NE = 0x52, I64_LT_S = 0x53, I64_LT_U = 0x54, I64_GE_S = 0x59, I64_GE_U = 0x5a;
const I32_ADD = 0x6a, I32_AND = 0x71, I32_OR = 0x72, I32_SHL = 0x74, I32_SHR_S = 0x75, I32_SHR_U = 0x76;
const I64_CONST_M32 = 0xffff_ffffn;
const I32_DIV_S = 0x6d, I32_DIV_U = 0x6e, I32_REM_S = 0x6f, I32_REM_U = 0x70;
const I64_ADD = 0x7c, I64_SUB = 0x7d, I64_MUL = 0x7e, I64_DIV_S = 0x7f, I64_DIV_U = 0x80, I64_REM_S = 0x81,
  I64_REM_U = 0x82, I64_AND = 0x83, I64_OR = 0x84, I64_XOR = 0x85, I64_SHL = 0x86, I64_SHR_S = 0x87, I64_SHR_U = 0x88;
const I32_WRAP = 0xa7, I64_EXTEND_S = 0xac, I64_EXTEND_U = 0xad, I64_EXTEND32_S = 0xc4;

/** Loads by funct3: opcode of the i64 load and access size. */
const LOADS: Record<number, [number, number]> = {
  0: [0x30, 1], 1: [0x32, 2], 2: [0x34, 4], 3: [0x29, 8], 4: [0x31, 1], 5: [0x33, 2], 6: [0x35, 4],
};
/** Stores by funct3: opcode of the i64 store and access size. */
const STORES: Record<number, [number, number]> = { 0: [0x3c, 1], 1: [0x3d, 2], 2: [0x3e, 4], 3: [0x37, 8] };

interface Insn {
  pc: bigint;
  bits: number; // 32-bit encoding (compressed ones expanded)
  len: number; // 2 or 4
}

interface Block {
  pc: bigint;
  insns: Insn[];
  /** Why it ends: a control transfer (its last insn), or it stops before the instruction at `end`. */
  end: bigint;
  transfer: boolean;
  /** It stops at the page end or the size limit (`end` is a block start elsewhere), not before an untranslated instruction. */
  cut: boolean;
}

const sext = (v: number, bits: number) => (v << (32 - bits)) >> (32 - bits);
const immI = (i: number) => i >> 20;
const immS = (i: number) => ((i >> 25) << 5) | ((i >>> 7) & 31);
const immB = (i: number) => sext(((i >>> 31) << 12) | (((i >>> 7) & 1) << 11) | (((i >>> 25) & 0x3f) << 5) | (((i >>> 8) & 0xf) << 1), 13);
const immJ = (i: number) => sext(((i >>> 31) << 20) | (i & 0xff000) | (((i >>> 20) & 1) << 11) | (((i >>> 21) & 0x3ff) << 1), 21);

const wrap64 = (v: bigint) => BigInt.asUintN(64, v);

/** Is `i` (32-bit) an instruction this file translates, as the interpreter decodes it (cpu/exec.ts)? */
export function translatable(i: number): boolean {
  const op = (i >>> 2) & 0x1f, f3 = (i >>> 12) & 7, f7 = i >>> 25;
  switch (op) {
    case 0x0d: case 0x05: case 0x1b: return true; // LUI AUIPC JAL
    case 0x19: return f3 === 0; // JALR
    case 0x18: return f3 !== 2 && f3 !== 3; // branches
    case 0x00: return f3 !== 7; // loads
    case 0x08: return f3 < 4; // stores
    case 0x04: // OP-IMM
      if (f3 === 1) return i >>> 26 === 0;
      if (f3 === 5) return i >>> 26 === 0 || i >>> 26 === 0x10;
      return true;
    case 0x06: // OP-IMM-32
      if (f3 === 0) return true;
      if (f3 === 1) return f7 === 0;
      if (f3 === 5) return f7 === 0 || f7 === 0x20;
      return false;
    case 0x0c: // OP
      if (f7 === 0) return true;
      if (f7 === 0x20) return f3 === 0 || f3 === 5;
      return f7 === 1; // M
    case 0x0e: // OP-32
      if (f7 === 0) return f3 === 0 || f3 === 1 || f3 === 5;
      if (f7 === 0x20) return f3 === 0 || f3 === 5;
      return f7 === 1 && f3 !== 1 && f3 !== 2 && f3 !== 3;
    case 0x03: return f3 === 0; // FENCE (FENCE.I goes to the interpreter)
    case 0x01: case 0x09: return f3 === 2 || f3 === 3; // FLW FLD FSW FSD
    case 0x14: case 0x10: case 0x11: case 0x12: case 0x13: return true; // OP-FP, fused: jitFp (leaves before it if illegal)
    default: return false;
  }
}

/** Ends a block (its last instruction when translated). */
const isTransfer = (i: number) => {
  const op = (i >>> 2) & 0x1f;
  return op === 0x18 || op === 0x19 || op === 0x1b;
};

export class Translator {
  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly rvcTable: number,
    private readonly off: HartOffsets,
  ) {}

  /** The 32-bit encoding at `pc` in the frame at `frame`, or 0 when it is not whole in the page / illegal compressed. */
  private fetch(u8: Uint8Array, dv: DataView, frame: number, pc: bigint): [number, number] {
    const o = Number(pc & 0xfffn);
    const lo = u8[frame + o]! | (u8[frame + o + 1]! << 8);
    if ((lo & 3) !== 3) return [dv.getUint32(this.rvcTable + lo * 4, true) | 0, 2];
    if (o === PAGE - 2) return [0, 4];
    return [dv.getInt32(frame + o, true), 4];
  }

  private discover(frame: number, entry: bigint): Block[] {
    const u8 = new Uint8Array(this.memory.buffer);
    const dv = new DataView(this.memory.buffer);
    const page = entry & ~0xfffn;
    const order: bigint[] = [entry];
    const seen = new Set<bigint>([entry]);
    const blocks: Block[] = [];
    let total = 0;
    for (let b = 0; b < order.length; b++) {
      const start = order[b]!;
      const insns: Insn[] = [];
      let pc = start;
      let transfer = false;
      let cut = true;
      while ((pc & ~0xfffn) === page && total < MAX_INSNS) {
        const [bits, len] = this.fetch(u8, dv, frame, pc);
        if (bits === 0 || !translatable(bits)) {
          cut = false;
          break;
        }
        insns.push({ pc, bits, len });
        total++;
        pc += BigInt(len);
        if (isTransfer(bits)) {
          transfer = true;
          const op = (bits >>> 2) & 0x1f;
          const target = op === 0x18 ? wrap64(pc - BigInt(len) + BigInt(immB(bits))) : op === 0x1b ? wrap64(pc - BigInt(len) + BigInt(immJ(bits))) : -1n;
          for (const t of op === 0x18 ? [target, pc] : [target]) {
            if (t >= 0n && (t & ~0xfffn) === page && !seen.has(t) && seen.size < MAX_BLOCKS) {
              seen.add(t);
              order.push(t);
            }
          }
          break;
        }
      }
      blocks.push({ pc: start, insns, end: pc, transfer, cut: cut && !transfer });
    }
    return blocks;
  }

  /** The region entered at `entry` (its code in the host frame at `frame`), or null if its first instruction is not translated. */
  translate(frame: number, entry: bigint): Region | null {
    const blocks = this.discover(frame, entry);
    if (blocks[0]!.insns.length === 0) return null;
    blocks.sort((a, b) => (a.pc < b.pc ? -1 : 1)); // guest order: forward branches become forward `br`s
    const index = new Map(blocks.map((b, i) => [b.pc, i]));
    const used = new Set<number>();
    const written = new Set<number>();
    for (const b of blocks) for (const { bits } of b.insns) regsOf(bits, used, written);
    const c = new Codegen(blocks, index, index.get(entry)!, this.off);
    const body = new ByteWriter();
    for (const r of used) body.byte(LGET).u32(L_H).byte(I64_LOAD).u32(3).u32(r * 8).byte(LSET).u32(2 + r);
    c.emit(body);
    for (const r of written) body.byte(LGET).u32(L_H).byte(LGET).u32(2 + r).byte(I64_STORE).u32(3).u32(r * 8);
    body.byte(LGET).u32(L_H).byte(LGET).u32(L_EXIT).byte(I64_STORE).u32(3).u32(this.off.pc);
    body.byte(LGET).u32(L_N).byte(LGET).u32(L_CHAIN).byte(I32_CONST).u32(CHAINED_SHIFT).byte(I32_SHL).byte(I32_OR);
    return { body: body.result(), blocks: blocks.length, insns: blocks.reduce((s, b) => s + b.insns.length, 0) };
  }
}

/** Where a block may go on to in the region (not JALR's target, unknown until run). */
function successors(b: Block): bigint[] {
  if (b.cut) return [b.end];
  if (!b.transfer) return [];
  const { pc, bits, len } = b.insns[b.insns.length - 1]!;
  const op = (bits >>> 2) & 0x1f;
  if (op === 0x18) return [wrap64(pc + BigInt(immB(bits))), wrap64(pc + BigInt(len))];
  if (op === 0x1b) return [wrap64(pc + BigInt(immJ(bits)))];
  return [];
}

/** Registers an instruction reads (`used`) and writes (`written`, also `used`: written-back values start as loaded). */
function regsOf(i: number, used: Set<number>, written: Set<number>): void {
  const op = (i >>> 2) & 0x1f;
  const rd = (i >>> 7) & 31, rs1 = (i >>> 15) & 31, rs2 = (i >>> 20) & 31;
  const fp = op === 0x14 || (op >= 0x10 && op <= 0x13);
  const reads1 = fp ? op === 0x14 && FP_READS_X.has(i >>> 27) : op !== 0x0d && op !== 0x05 && op !== 0x1b && op !== 0x03;
  const reads2 = op === 0x18 || op === 0x08 || op === 0x0c || op === 0x0e;
  const writes = fp ? op === 0x14 && FP_WRITES_X.has(i >>> 27) : op !== 0x18 && op !== 0x08 && op !== 0x03 && op !== 0x01 && op !== 0x09;
  if (reads1 && rs1) used.add(rs1);
  if (reads2 && rs2) used.add(rs2);
  if (writes && rd) {
    used.add(rd);
    written.add(rd);
  }
}

class Codegen {
  private w!: ByteWriter;
  /** Labels enclosing the current code, innermost last, to compute branch depths. */
  private depth = 0;
  private outDepth = 0; // depth of $out's label
  private loopDepth = 0;
  /** The block being emitted. */
  private cur = 0;
  /** Blocks entered from the loop (the entry, targets of backward branches): they read the attention word. */
  private readonly heads = new Set<number>();

  constructor(
    private readonly blocks: Block[],
    private readonly index: Map<bigint, number>,
    private readonly entry: number,
    private readonly off: HartOffsets,
  ) {
    this.heads.add(entry);
    blocks.forEach((b, i) => {
      for (const t of successors(b)) {
        const j = index.get(t);
        if (j !== undefined && j <= i) this.heads.add(j);
      }
    });
  }

  emit(w: ByteWriter): void {
    this.w = w;
    const n = this.blocks.length;
    if (this.entry) {
      this.i32(this.entry);
      this.set(L_BLK);
    }
    // block $out; loop $L; block $b(n-1) ... block $b0; br_table; end $b0; code of block 0; end $b1; ...
    w.byte(BLOCK).byte(0x40);
    this.outDepth = ++this.depth;
    w.byte(LOOP).byte(0x40);
    this.loopDepth = ++this.depth;
    for (let i = 0; i < n; i++) {
      w.byte(BLOCK).byte(0x40);
      this.depth++;
    }
    w.byte(LGET).u32(L_BLK).byte(BR_TABLE).u32(n);
    for (let i = 0; i < n; i++) w.u32(i);
    w.u32(0);
    for (let i = 0; i < n; i++) {
      w.byte(END);
      this.depth--;
      this.cur = i;
      this.block(this.blocks[i]!);
    }
    w.byte(END); // loop
    this.depth--;
    w.byte(END); // $out
    this.depth--;
  }

  private br(label: number): void {
    this.w.byte(BR).u32(this.depth - label);
  }
  private i32(v: number): void {
    this.w.byte(I32_CONST).s32(v);
  }
  private i64(v: bigint): void {
    const n = BigInt.asIntN(64, v);
    if (n >= -0x8000_0000n && n < 0x8000_0000n) this.w.byte(I64_CONST).s32(Number(n)); // same encoding, no BigInt loop
    else this.w.byte(I64_CONST).s64(n);
  }
  private get(l: number): void {
    this.w.byte(LGET).u32(l);
  }
  private set(l: number): void {
    this.w.byte(LSET).u32(l);
  }
  private x(r: number): void {
    if (r) this.get(2 + r);
    else this.i64(0n);
  }
  /** The value on the stack goes to x[rd] (dropped for x0). */
  private setX(rd: number): void {
    if (rd) this.set(2 + rd);
    else this.w.byte(0x1a); // drop
  }
  private op(...ops: number[]): void {
    this.w.bytes(ops);
  }
  private addN(k: number): void {
    if (!k) return;
    this.get(L_N);
    this.i32(k);
    this.op(I32_ADD);
    this.set(L_N);
  }
  /** Leaves the region at `pc` (not executed) after `k` more retired instructions. */
  private exit(pc: bigint, k: number): void {
    this.addN(k);
    this.i64(pc);
    this.set(L_EXIT);
    this.br(this.outDepth);
  }
  /** Leaves the region at the target of a jump taken (the dispatcher may chain to a region there). */
  private leaveTo(pc: bigint | null): void {
    if (pc !== null) this.i64(pc);
    this.set(L_EXIT);
    this.i32(1);
    this.set(L_CHAIN);
    this.br(this.outDepth);
  }
  /** Goes on at `pc`: in the region, forward by `br` to the block's label, backward through the loop; else leaves. */
  private goto(pc: bigint): void {
    const i = this.index.get(pc);
    if (i === undefined || this.blocks[i]!.insns.length === 0) {
      this.leaveTo(pc);
      return;
    }
    if (i > this.cur) {
      // $b_i was opened (n - i) labels inside the loop; its end is block i's code.
      this.br(this.loopDepth + this.blocks.length - i);
      return;
    }
    this.i32(i);
    this.set(L_BLK);
    this.br(this.loopDepth);
  }
  private ifThen(fill: () => void): void {
    this.op(IF, 0x40);
    this.depth++;
    fill();
    this.op(END);
    this.depth--;
  }

  private block(b: Block): void {
    const len = b.insns.length;
    if (len === 0) {
      this.exit(b.pc, 0);
      return;
    }
    // Stop before a block the budget cannot finish, or (at a loop head) when someone wants our attention.
    this.get(L_N);
    this.i32(len);
    this.op(I32_ADD);
    this.get(L_BUDGET);
    this.op(I32_GT_U);
    if (this.heads.has(this.cur)) {
      this.get(L_H);
      this.op(I32_LOAD, 2);
      this.w.u32(this.off.attention);
      this.op(I32_OR);
    }
    this.ifThen(() => this.exit(b.pc, 0));
    for (let k = 0; k < len; k++) {
      const insn = b.insns[k]!;
      if (k === len - 1 && b.transfer) {
        this.addN(len);
        this.transfer(insn);
        return;
      }
      this.insn(insn, k);
    }
    if (b.cut) {
      this.addN(len);
      this.goto(b.end);
    } else this.exit(b.end, len);
  }

  private transfer({ pc, bits: i, len }: Insn): void {
    const op = (i >>> 2) & 0x1f, rd = (i >>> 7) & 31, rs1 = (i >>> 15) & 31, rs2 = (i >>> 20) & 31;
    const next = wrap64(pc + BigInt(len));
    if (op === 0x1b) { // JAL
      if (rd) {
        this.i64(next);
        this.setX(rd);
      }
      this.goto(wrap64(pc + BigInt(immJ(i))));
      return;
    }
    if (op === 0x19) { // JALR: target before the link (rs1 may be rd)
      this.x(rs1);
      this.i64(BigInt(immI(i)));
      this.op(I64_ADD);
      this.i64(-2n);
      this.op(I64_AND);
      if (rd) {
        this.i64(next);
        this.setX(rd);
      }
      this.leaveTo(null);
      return;
    }
    const f3 = (i >>> 12) & 7;
    this.x(rs1);
    this.x(rs2);
    this.op([I64_EQ, I64_NE, 0, 0, I64_LT_S, I64_GE_S, I64_LT_U, I64_GE_U][f3]!);
    this.ifThen(() => this.goto(wrap64(pc + BigInt(immB(i)))));
    this.goto(next);
  }

  /** Leaves before instruction `k` (at `pc`) when mstatus.FS is off: the interpreter raises illegal-instruction. */
  private fpOnOrExit(pc: bigint, k: number): void {
    this.get(L_H);
    this.op(I64_LOAD, 3);
    this.w.u32(this.off.mstatus);
    this.i64(MS_FS);
    this.op(I64_AND, I64_EQZ);
    this.ifThen(() => this.exit(pc, k));
  }

  /** The TLB entry's address for `va` (in L_VA) into L_E, and the tag compare; a miss leaves before instruction `k`. */
  private tlbCheck(acc: number, size: number, pc: bigint, k: number): void {
    const base = this.off.tlb + acc * TLB_TABLE;
    this.get(L_H);
    this.get(L_VA);
    this.i64(12n);
    this.op(I64_SHR_U, I32_WRAP);
    this.i32(255);
    this.op(I32_AND);
    this.i32(4);
    this.op(I32_SHL, I32_ADD);
    this.set(L_E);
    this.get(L_E);
    this.op(I64_LOAD, 3);
    this.w.u32(base);
    this.get(L_VA);
    this.i64(BigInt(-4096 | (size - 1)));
    this.op(I64_AND);
    this.get(L_KEY);
    this.op(I64_OR, I64_NE);
    this.ifThen(() => this.exit(pc, k));
    // host address = u32(va) + addend
    this.get(L_VA);
    this.op(I32_WRAP);
    this.get(L_E);
    this.op(I32_LOAD, 2);
    this.w.u32(base + 8);
    this.op(I32_ADD);
  }

  private insn({ pc, bits: i, len }: Insn, k: number): void {
    const op = (i >>> 2) & 0x1f, f3 = (i >>> 12) & 7, f7 = i >>> 25;
    const rd = (i >>> 7) & 31, rs1 = (i >>> 15) & 31, rs2 = (i >>> 20) & 31;
    switch (op) {
      case 0x0d: // LUI
        if (!rd) return;
        this.i64(BigInt(i & 0xfffff000));
        this.setX(rd);
        return;
      case 0x05: // AUIPC
        if (!rd) return;
        this.i64(wrap64(pc + BigInt(i & 0xfffff000)));
        this.setX(rd);
        return;
      case 0x00: { // loads: the access happens even for x0 (it may fault)
        const [ld, size] = LOADS[f3]!;
        this.x(rs1);
        this.i64(BigInt(immI(i)));
        this.op(I64_ADD);
        this.set(L_VA);
        this.tlbCheck(ACC_LOAD, size, pc, k);
        this.op(ld, Math.log2(size), 0);
        this.setX(rd);
        return;
      }
      case 0x08: { // stores
        const [st, size] = STORES[f3]!;
        this.x(rs1);
        this.i64(BigInt(immS(i)));
        this.op(I64_ADD);
        this.set(L_VA);
        this.tlbCheck(ACC_STORE, size, pc, k);
        this.x(rs2);
        this.op(st, Math.log2(size), 0);
        return;
      }
      case 0x03: return; // FENCE
      case 0x01: { // FLW, FLD: as the interpreter, illegal with FS off (it raises), FS dirty after
        const size = f3 === 3 ? 8 : 4;
        this.fpOnOrExit(pc, k);
        this.x(rs1);
        this.i64(BigInt(immI(i)));
        this.op(I64_ADD);
        this.set(L_VA);
        this.tlbCheck(ACC_LOAD, size, pc, k);
        if (size === 8) this.op(I64_LOAD, 3, 0);
        else {
          this.op(0x35, 2, 0); // i64.load32_u
          this.i64(NAN_BOX);
          this.op(I64_OR);
        }
        this.set(L_T);
        this.get(L_H);
        this.get(L_T);
        this.op(I64_STORE, 3);
        this.w.u32(this.off.f + rd * 8);
        this.get(L_H);
        this.get(L_H);
        this.op(I64_LOAD, 3);
        this.w.u32(this.off.mstatus);
        this.i64(MS_FS);
        this.op(I64_OR, I64_STORE, 3);
        this.w.u32(this.off.mstatus);
        return;
      }
      case 0x09: { // FSW, FSD
        const size = f3 === 3 ? 8 : 4;
        this.fpOnOrExit(pc, k);
        this.x(rs1);
        this.i64(BigInt(immS(i)));
        this.op(I64_ADD);
        this.set(L_VA);
        this.tlbCheck(ACC_STORE, size, pc, k);
        this.get(L_H);
        this.op(I64_LOAD, 3);
        this.w.u32(this.off.f + rs2 * 8);
        this.op(size === 8 ? I64_STORE : 0x3e, size === 8 ? 3 : 2, 0);
        return;
      }
      case 0x14: case 0x10: case 0x11: case 0x12: case 0x13: { // F/D arithmetic: the interpreter's, in the kernel
        const f5 = i >>> 27;
        if (op === 0x14 && FP_READS_X.has(f5) && rs1) {
          this.get(L_H);
          this.x(rs1);
          this.op(I64_STORE, 3);
          this.w.u32(rs1 * 8);
        }
        this.i32(i);
        this.op(CALL, FN_FP, I32_EQZ);
        this.ifThen(() => this.exit(pc, k));
        if (op === 0x14 && FP_WRITES_X.has(f5) && rd) {
          this.get(L_H);
          this.op(I64_LOAD, 3);
          this.w.u32(rd * 8);
          this.set(2 + rd);
        }
        return;
      }
      case 0x04: { // OP-IMM
        if (!rd) return;
        const imm = BigInt(immI(i));
        this.x(rs1);
        if (f3 === 1 || f3 === 5) {
          this.i64(BigInt(rs2 | ((f7 & 1) << 5))); // shamt[5:0]
          this.op(f3 === 1 ? I64_SHL : i >>> 26 ? I64_SHR_S : I64_SHR_U);
        } else if (f3 === 2 || f3 === 3) {
          this.i64(imm);
          this.op(f3 === 2 ? I64_LT_S : I64_LT_U, I64_EXTEND_U);
        } else {
          this.i64(imm);
          this.op([I64_ADD, 0, 0, 0, I64_XOR, 0, I64_OR, I64_AND][f3]!);
        }
        this.setX(rd);
        return;
      }
      case 0x06: { // OP-IMM-32
        if (!rd) return;
        this.x(rs1);
        if (f3 === 0) {
          this.i64(BigInt(immI(i)));
          this.op(I64_ADD, I64_EXTEND32_S);
        } else {
          this.op(I32_WRAP);
          this.i32(rs2);
          this.op(f3 === 1 ? I32_SHL : f7 ? I32_SHR_S : I32_SHR_U, I64_EXTEND_S);
        }
        this.setX(rd);
        return;
      }
      case 0x0c: // OP
        if (!rd) return;
        if (f7 === 1 && f3 >= 1 && f3 <= 3) this.mulh(f3, rs1, rs2);
        else if (f7 === 1) this.div64(f3, rs1, rs2);
        else {
          this.x(rs1);
          this.x(rs2);
          if (f3 === 2 || f3 === 3) this.op(f3 === 2 ? I64_LT_S : I64_LT_U, I64_EXTEND_U);
          else if (f3 === 0) this.op(f7 ? I64_SUB : I64_ADD);
          else if (f3 === 5) this.op(f7 ? I64_SHR_S : I64_SHR_U);
          else this.op([0, I64_SHL, 0, 0, I64_XOR, 0, I64_OR, I64_AND][f3]!);
        }
        this.setX(rd);
        return;
      case 0x0e: // OP-32
        if (!rd) return;
        if (f7 === 1) this.div32(f3, rs1, rs2);
        else if (f3 === 0) {
          this.x(rs1);
          this.x(rs2);
          this.op(f7 ? I64_SUB : I64_ADD, I64_EXTEND32_S);
        } else {
          this.x(rs1);
          this.op(I32_WRAP);
          this.x(rs2);
          this.op(I32_WRAP);
          this.op(f3 === 1 ? I32_SHL : f7 ? I32_SHR_S : I32_SHR_U, I64_EXTEND_S);
        }
        this.setX(rd);
        return;
    }
    throw new Error(`jit: untranslatable instruction ${i.toString(16)} at ${pc.toString(16)} was selected`);
  }

  /** The M extension's operands: x[rs1] into L_VA, x[rs2] into L_T. */
  private operands(rs1: number, rs2: number): void {
    this.x(rs1);
    this.set(L_VA);
    this.x(rs2);
    this.set(L_T);
  }

  /** MUL, DIV, DIVU, REM, REMU with RISC-V's results for a zero divisor and overflow (no wasm trap). */
  private div64(f3: number, rs1: number, rs2: number): void {
    this.operands(rs1, rs2);
    if (f3 === 0) {
      this.get(L_VA);
      this.get(L_T);
      this.op(I64_MUL);
      return;
    }
    const signed = f3 === 4 || f3 === 6;
    const rem = f3 >= 6;
    this.get(L_T);
    this.op(I64_EQZ, IF, I64);
    if (rem) this.get(L_VA);
    else this.i64(-1n);
    this.op(ELSE);
    if (signed && !rem) {
      // MIN / -1 = MIN (wasm traps); MIN % -1 is 0 in wasm already.
      this.get(L_T);
      this.i64(-1n);
      this.op(I64_EQ, IF, I64);
      this.i64(0n);
      this.get(L_VA);
      this.op(I64_SUB);
      this.op(ELSE);
      this.get(L_VA);
      this.get(L_T);
      this.op(I64_DIV_S, END);
    } else {
      this.get(L_VA);
      this.get(L_T);
      this.op(signed ? I64_REM_S : rem ? I64_REM_U : I64_DIV_U);
    }
    this.op(END);
  }

  /**
   * MULH (f3 1), MULHSU (2), MULHU (3): the high half of the 128-bit product
   * from four 32x32 products (as cpu/muldiv.ts), then the signed corrections
   * without branches: a negative operand subtracts the other one.
   */
  private mulh(f3: number, rs1: number, rs2: number): void {
    const a = L_VA, b = L_T, lo = (l: number) => { this.get(l); this.i64(I64_CONST_M32); this.op(I64_AND); };
    const hi = (l: number) => { this.get(l); this.i64(32n); this.op(I64_SHR_U); };
    this.operands(rs1, rs2);
    lo(a); hi(b); this.op(I64_MUL); this.set(L_P); // aLo * bHi
    hi(a); lo(b); this.op(I64_MUL); this.set(L_Q); // aHi * bLo
    // mid = (aLo * bLo >> 32) + (P & M) + (Q & M); high = aHi * bHi + P >> 32 + Q >> 32 + mid >> 32
    lo(a); lo(b); this.op(I64_MUL); this.i64(32n); this.op(I64_SHR_U);
    lo(L_P); this.op(I64_ADD);
    lo(L_Q); this.op(I64_ADD);
    this.i64(32n); this.op(I64_SHR_U);
    hi(a); hi(b); this.op(I64_MUL, I64_ADD);
    hi(L_P); this.op(I64_ADD);
    hi(L_Q); this.op(I64_ADD);
    const correct = (neg: number, other: number) => {
      this.get(neg); this.i64(63n); this.op(I64_SHR_S); this.get(other); this.op(I64_AND, I64_SUB);
    };
    if (f3 !== 3) correct(a, b); // MULH, MULHSU: rs1 signed
    if (f3 === 1) correct(b, a); // MULH: rs2 signed
  }

  /** MULW, DIVW, DIVUW, REMW, REMUW: 32-bit, sign-extended. */
  private div32(f3: number, rs1: number, rs2: number): void {
    this.operands(rs1, rs2);
    if (f3 === 0) {
      this.get(L_VA);
      this.get(L_T);
      this.op(I64_MUL, I64_EXTEND32_S);
      return;
    }
    const signed = f3 === 4 || f3 === 6;
    const rem = f3 >= 6;
    this.get(L_T);
    this.op(I32_WRAP, I32_EQZ, IF, I32);
    if (rem) {
      this.get(L_VA);
      this.op(I32_WRAP);
    } else this.i32(-1);
    this.op(ELSE);
    if (signed && !rem) {
      this.get(L_T);
      this.op(I32_WRAP);
      this.i32(-1);
      this.op(I32_EQ, IF, I32);
      this.i32(0);
      this.get(L_VA);
      this.op(I32_WRAP, 0x6b /* i32.sub */, ELSE);
      this.get(L_VA);
      this.op(I32_WRAP);
      this.get(L_T);
      this.op(I32_WRAP, I32_DIV_S, END);
    } else {
      this.get(L_VA);
      this.op(I32_WRAP);
      this.get(L_T);
      this.op(I32_WRAP, signed ? I32_REM_S : rem ? I32_REM_U : I32_DIV_U);
    }
    this.op(END, I64_EXTEND_S);
  }
}
