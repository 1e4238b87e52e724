// Architectural constants: privilege levels, trap causes, mstatus and mip
// bits, CSR numbers (RISC-V privileged spec 1.12, chapters 3-4).

export const PRIV_U: u32 = 0;
export const PRIV_S: u32 = 1;
export const PRIV_M: u32 = 3;

// Exception causes (privileged spec table 3.6).
export namespace Cause {
  export const INSN_MISALIGNED: u32 = 0;
  export const INSN_ACCESS: u32 = 1;
  export const ILLEGAL_INSN: u32 = 2;
  export const BREAKPOINT: u32 = 3;
  export const LOAD_MISALIGNED: u32 = 4;
  export const LOAD_ACCESS: u32 = 5;
  export const STORE_MISALIGNED: u32 = 6;
  export const STORE_ACCESS: u32 = 7;
  export const ECALL_U: u32 = 8;
  export const ECALL_S: u32 = 9;
  export const ECALL_M: u32 = 11;
  export const INSN_PAGE_FAULT: u32 = 12;
  export const LOAD_PAGE_FAULT: u32 = 13;
  export const STORE_PAGE_FAULT: u32 = 15;
}

// Interrupt numbers (the bit in mip/mie and the cause code with bit 63 set).
export namespace Irq {
  export const SSI: u32 = 1;
  export const MSI: u32 = 3;
  export const STI: u32 = 5;
  export const MTI: u32 = 7;
  export const SEI: u32 = 9;
  export const MEI: u32 = 11;
}
export const MIP_SSIP: u64 = 1 << 1;
export const MIP_MSIP: u64 = 1 << 3;
export const MIP_STIP: u64 = 1 << 5;
export const MIP_MTIP: u64 = 1 << 7;
export const MIP_SEIP: u64 = 1 << 9;
export const MIP_MEIP: u64 = 1 << 11;
/** Interrupts S-mode may see and that mideleg may delegate. */
export const S_INTERRUPTS: u64 = MIP_SSIP | MIP_STIP | MIP_SEIP;
export const ALL_INTERRUPTS: u64 = S_INTERRUPTS | MIP_MSIP | MIP_MTIP | MIP_MEIP;

// mstatus fields (privileged spec figure 3.7, RV64).
export const MS_SIE: u64 = 1 << 1;
export const MS_MIE: u64 = 1 << 3;
export const MS_SPIE: u64 = 1 << 5;
export const MS_UBE: u64 = 1 << 6;
export const MS_MPIE: u64 = 1 << 7;
export const MS_SPP: u64 = 1 << 8;
export const MS_VS: u64 = 3 << 9;
export const MS_MPP_SHIFT: u64 = 11;
export const MS_MPP: u64 = 3 << 11;
export const MS_FS_SHIFT: u64 = 13;
export const MS_FS: u64 = 3 << 13;
export const MS_XS: u64 = 3 << 15;
export const MS_MPRV: u64 = 1 << 17;
export const MS_SUM: u64 = 1 << 18;
export const MS_MXR: u64 = 1 << 19;
export const MS_TVM: u64 = 1 << 20;
export const MS_TW: u64 = 1 << 21;
export const MS_TSR: u64 = 1 << 22;
export const MS_UXL: u64 = 3 << 32;
export const MS_SXL: u64 = 3 << 34;
export const MS_SD: u64 = 1 << 63;
/** UXL = SXL = 2: U and S are RV64 and not switchable. */
export const MS_XLEN_FIXED: u64 = (<u64>2 << 32) | (<u64>2 << 34);

export const MSTATUS_WRITABLE: u64 =
  MS_SIE | MS_MIE | MS_SPIE | MS_MPIE | MS_SPP | MS_MPP | MS_FS | MS_MPRV | MS_SUM | MS_MXR | MS_TVM | MS_TW | MS_TSR;
export const SSTATUS_MASK: u64 = MS_SIE | MS_SPIE | MS_UBE | MS_SPP | MS_VS | MS_FS | MS_XS | MS_SUM | MS_MXR | MS_UXL | MS_SD;
export const SSTATUS_WRITABLE: u64 = MS_SIE | MS_SPIE | MS_SPP | MS_FS | MS_SUM | MS_MXR;

/** misa: MXL=2 (RV64), extensions A C D F I M S U. */
export const MISA_VALUE: u64 =
  (<u64>2 << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);

// satp (RV64): MODE[63:60] ASID[59:44] PPN[43:0].
export const SATP_MODE_BARE: u64 = 0;
export const SATP_MODE_SV39: u64 = 8;
export const SATP_MODE_SV48: u64 = 9;

// CSR numbers.
export namespace Csr {
  export const FFLAGS: u32 = 0x001;
  export const FRM: u32 = 0x002;
  export const FCSR: u32 = 0x003;
  export const SSTATUS: u32 = 0x100;
  export const SIE: u32 = 0x104;
  export const STVEC: u32 = 0x105;
  export const SCOUNTEREN: u32 = 0x106;
  export const SENVCFG: u32 = 0x10a;
  export const SSCRATCH: u32 = 0x140;
  export const SEPC: u32 = 0x141;
  export const SCAUSE: u32 = 0x142;
  export const STVAL: u32 = 0x143;
  export const SIP: u32 = 0x144;
  export const STIMECMP: u32 = 0x14d;
  export const SATP: u32 = 0x180;
  export const MSTATUS: u32 = 0x300;
  export const MISA: u32 = 0x301;
  export const MEDELEG: u32 = 0x302;
  export const MIDELEG: u32 = 0x303;
  export const MIE: u32 = 0x304;
  export const MTVEC: u32 = 0x305;
  export const MCOUNTEREN: u32 = 0x306;
  export const MENVCFG: u32 = 0x30a;
  export const MCOUNTINHIBIT: u32 = 0x320;
  export const MSCRATCH: u32 = 0x340;
  export const MEPC: u32 = 0x341;
  export const MCAUSE: u32 = 0x342;
  export const MTVAL: u32 = 0x343;
  export const MIP: u32 = 0x344;
  export const PMPCFG0: u32 = 0x3a0;
  export const PMPADDR0: u32 = 0x3b0;
  export const TSELECT: u32 = 0x7a0;
  export const TDATA1: u32 = 0x7a1;
  export const TDATA2: u32 = 0x7a2;
  export const TDATA3: u32 = 0x7a3;
  export const TINFO: u32 = 0x7a4;
  export const MCYCLE: u32 = 0xb00;
  export const MINSTRET: u32 = 0xb02;
  export const CYCLE: u32 = 0xc00;
  export const TIME: u32 = 0xc01;
  export const INSTRET: u32 = 0xc02;
  export const MVENDORID: u32 = 0xf11;
  export const MARCHID: u32 = 0xf12;
  export const MIMPID: u32 = 0xf13;
  export const MHARTID: u32 = 0xf14;
  export const MCONFIGPTR: u32 = 0xf15;
}

// menvcfg bits we implement: FIOM (0) and STCE (63, Sstc).
export const MENVCFG_WRITABLE: u64 = 1;
export const SENVCFG_WRITABLE: u64 = 1;
