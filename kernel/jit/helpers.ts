// Kernel functions that translated code calls (runtime/jit/translate.ts
// imports them into every region's module): the interpreter's own
// implementation of what is not worth open-coding in wasm, so both tiers
// compute bit-identical results, flags and state changes.
import { execFp } from '../cpu/fpu/exec';

/**
 * One F/D computational instruction (OP-FP, MADD..NMADD) on the running
 * hart, as the interpreter runs it: 1 done, 0 illegal (nothing changed; the
 * region leaves before it and the interpreter raises the exception).
 * Integer operands and results go through the hart block (the caller stores
 * and reloads the x register involved).
 */
export function jitFp(insn: u32): u32 {
  return execFp(insn) ? 1 : 0;
}
