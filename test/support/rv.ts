// A few RV64 instruction encoders (unprivileged spec 2.2-2.5, privileged
// 3.3) for tests and the fuzz suite that build guest code without a
// toolchain, and raw-image/ELF wrappers around it.

/** The base instruction formats (unprivileged spec 2.2, 2.3): fields in, a 32-bit word out. */
export const fmt = {
  R: (op: number, rd: number, f3: number, rs1: number, rs2: number, f7: number) =>
    ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0,
  I: (op: number, rd: number, f3: number, rs1: number, imm: number) => (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0,
  S: (op: number, f3: number, rs1: number, rs2: number, imm: number) =>
    ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | op) >>> 0,
  /** A conditional branch (opcode BRANCH), offset in bytes. */
  B: (f3: number, rs1: number, rs2: number, off: number) =>
    ((((off >> 12) & 1) << 31) | (((off >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (((off >> 1) & 0xf) << 8) | (((off >> 11) & 1) << 7) | 0x63) >>> 0,
  U: (op: number, rd: number, imm20: number) => (((imm20 & 0xfffff) << 12) | (rd << 7) | op) >>> 0,
  /** jal rd, offset (bytes, even, +-1 MiB). */
  J: (rd: number, off: number) =>
    ((((off >> 20) & 1) << 31) | (((off >> 1) & 0x3ff) << 21) | (((off >> 11) & 1) << 20) | (((off >> 12) & 0xff) << 12) | (rd << 7) | 0x6f) >>> 0,
};
const { R: r, I: i, S: s, B: b, U: u, J: j } = fmt;

export const rv = {
  addi: (rd: number, rs1: number, imm: number) => i(0x13, rd, 0, rs1, imm),
  auipc: (rd: number, imm20: number) => u(0x17, rd, imm20),
  slli: (rd: number, rs1: number, sh: number) => i(0x13, rd, 1, rs1, sh & 63),
  lui: (rd: number, imm20: number) => u(0x37, rd, imm20),
  add: (rd: number, rs1: number, rs2: number) => r(0x33, rd, 0, rs1, rs2, 0),
  ld: (rd: number, rs1: number, imm: number) => i(0x03, rd, 3, rs1, imm),
  sd: (rs2: number, rs1: number, imm: number) => s(0x23, 3, rs1, rs2, imm),
  sw: (rs2: number, rs1: number, imm: number) => s(0x23, 2, rs1, rs2, imm),
  /** jal rd, offset (bytes, even, +-1 MiB). */
  jal: (rd: number, off: number) => j(rd, off),
  /** beq/bne rs1, rs2, offset (bytes, even, +-4 KiB). */
  beq: (rs1: number, rs2: number, off: number) => b(0, rs1, rs2, off),
  bne: (rs1: number, rs2: number, off: number) => b(1, rs1, rs2, off),
  csrrw: (rd: number, csr: number, rs1: number) => i(0x73, rd, 1, rs1, csr),
  csrrs: (rd: number, csr: number, rs1: number) => i(0x73, rd, 2, rs1, csr),
  csrrwi: (rd: number, csr: number, uimm: number) => i(0x73, rd, 5, uimm, csr),
  ecall: () => 0x0000_0073,
  ebreak: () => 0x0010_0073,
  mret: () => 0x3020_0073,
  wfi: () => 0x1050_0073,
  /** An all-ones word: illegal in every extension. */
  illegal: () => 0xffff_ffff,
} as const;

export const CSR = { mstatus: 0x300, mie: 0x304, mtvec: 0x305, mepc: 0x341, mcause: 0x342 } as const;

/** Little-endian bytes of 32-bit instruction words. */
export function code(words: readonly number[]): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const dv = new DataView(out.buffer);
  words.forEach((w, k) => dv.setUint32(k * 4, w >>> 0, true));
  return out;
}

/** A minimal RV64 ELF executable: `bytes` loaded at `addr` (one PT_LOAD), entry at `addr`. */
export function elf(bytes: Uint8Array, addr = 0x8000_0000n): Uint8Array {
  const out = new Uint8Array(64 + 56 + bytes.length);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 243, true); // EM_RISCV
  dv.setUint32(20, 1, true);
  dv.setBigUint64(24, addr, true); // e_entry
  dv.setBigUint64(32, 64n, true); // e_phoff
  dv.setUint16(52, 64, true); // e_ehsize
  dv.setUint16(54, 56, true); // e_phentsize
  dv.setUint16(56, 1, true); // e_phnum
  dv.setUint32(64, 1, true); // PT_LOAD
  dv.setUint32(68, 7, true); // RWX
  dv.setBigUint64(72, 120n, true); // p_offset
  dv.setBigUint64(80, addr, true); // p_vaddr
  dv.setBigUint64(88, addr, true); // p_paddr
  dv.setBigUint64(96, BigInt(bytes.length), true); // p_filesz
  dv.setBigUint64(104, BigInt(bytes.length), true); // p_memsz
  out.set(bytes, 120);
  return out;
}
