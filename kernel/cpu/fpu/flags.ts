// Accrued IEEE 754 exception flags and rounding modes, in RISC-V encoding.
//
// Every operation in this directory ORs the exceptions it raises into
// `fflags`; nothing ever clears it. The caller decides what it starts from:
// exec.ts preloads it with fcsr.fflags (flags are sticky, so an operation
// may skip work whose only purpose is to raise a flag that is already set,
// e.g. the exactness test behind NX), tests start from 0.

/** Accrued exception flags, same bit layout as fcsr.fflags. */
export let fflags: u32 = 0;

export function setFflags(v: u32): void {
  fflags = v;
}
export function getFflags(): u32 {
  return fflags;
}

export const NV: u32 = 0x10; // invalid operation
export const DZ: u32 = 0x08; // divide by zero
export const OF: u32 = 0x04; // overflow
export const UF: u32 = 0x02; // underflow (tiny after rounding AND inexact)
export const NX: u32 = 0x01; // inexact

@inline export function raise(f: u32): void {
  fflags |= f;
}

/** True when NX is already accrued, so exactness need not be established. */
@inline export function nxKnown(): bool {
  return (fflags & NX) != 0;
}

// Rounding modes (the rm field / fcsr.frm). 5 and 6 are reserved and 7
// (dynamic) is resolved by the caller, so operations only ever see 0..4.
export const RNE: u32 = 0; // to nearest, ties to even
export const RTZ: u32 = 1; // toward zero
export const RDN: u32 = 2; // toward -inf
export const RUP: u32 = 3; // toward +inf
export const RMM: u32 = 4; // to nearest, ties away from zero (max magnitude)
export const DYN: u32 = 7;
