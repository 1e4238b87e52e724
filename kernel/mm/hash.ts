// Page contents for page sharing (mm/share.ts): a 32-bit hash of a 4 KiB
// frame, a zero test and a full compare. The hash only picks candidates;
// nothing is merged before the full compare says the bytes are equal, so a
// collision costs a compare, never a wrong merge.
//
// The hash runs four independent multiply-xor lanes over the frame's 512
// u64 words (as xxHash's stripes do), so the multiplies of one lane overlap
// those of the others instead of forming one 512-long dependency chain.
import { PAGE_SIZE } from '../layout';

const P1: u64 = 0x9e37_79b1_85eb_ca87;
const P2: u64 = 0xc2b2_ae3d_27d4_eb4f;

@inline function lane(acc: u64, w: u64): u64 {
  return rotl<u64>(acc ^ (w * P2), 31) * P1;
}

/** 32-bit hash of the frame at host address `f`. */
export function frameHash(f: usize): u32 {
  let a: u64 = 1, b: u64 = 2, c: u64 = 3, d: u64 = 4;
  for (let p = f, end = f + PAGE_SIZE; p < end; p += 32) {
    a = lane(a, load<u64>(p));
    b = lane(b, load<u64>(p, 8));
    c = lane(c, load<u64>(p, 16));
    d = lane(d, load<u64>(p, 24));
  }
  let h = rotl<u64>(a, 1) + rotl<u64>(b, 7) + rotl<u64>(c, 12) + rotl<u64>(d, 18);
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  return <u32>(h ^ (h >> 32));
}

/** Is every byte of the frame at `f` zero? (Stops at the first non-zero word.) */
export function frameIsZero(f: usize): bool {
  for (let p = f, end = f + PAGE_SIZE; p < end; p += 32) {
    if ((load<u64>(p) | load<u64>(p, 8) | load<u64>(p, 16) | load<u64>(p, 24)) != 0) return false;
  }
  return true;
}

/** Are the frames at `a` and `b` byte for byte equal? */
export function framesEqual(a: usize, b: usize): bool {
  for (let off: usize = 0; off < PAGE_SIZE; off += 16) {
    if (load<u64>(a + off) != load<u64>(b + off) || load<u64>(a + off, 8) != load<u64>(b + off, 8)) return false;
  }
  return true;
}
