// Arguments and results of the SBI call being serviced, in the calling
// vCPU's registers (a0-a7 = x10-x17).
import { getX, setX, hart, H_PARTITION } from '../cpu/hart';

@inline export function arg(i: u32): u64 {
  return getX(10 + i);
}
@inline export function eid(): u64 {
  return getX(17);
}
/** The FID, or 0xFFFF_FFFF (no such function) when it does not fit 32 bits. */
@inline export function fid(): u32 {
  const f = getX(16);
  return f <= 0xffff_fffe ? <u32>f : 0xffff_ffff;
}

/** An SBI v0.2+ result: a0 = error, a1 = value. */
@inline export function ret(error: i64, value: u64): void {
  setX(10, <u64>error);
  setX(11, value);
}
@inline export function retErr(error: i64): void {
  ret(error, 0);
}
/** A legacy (v0.1) result: a0 only. */
@inline export function retLegacy(value: i64): void {
  setX(10, <u64>value);
}

/** The calling vCPU's partition descriptor. */
@inline export function callerPartition(): usize {
  return <usize>load<u32>(hart, H_PARTITION);
}

/** True when `v` fits the 32-bit parameters the spec declares as uint32_t. */
@inline export function fitsU32(v: u64): bool {
  return v <= 0xffff_ffff;
}
