#!/usr/bin/env python3
"""Reference vectors in every rounding mode, from exact rational arithmetic.

    fpu-rmm.py SEED COUNT OP:RM [OP:RM ...]  >  records

x86 cannot round to nearest with ties away from zero (RISC-V RMM), so this
computes the exact result with fractions.Fraction and rounds it by the
IEEE 754 rules written out below (tininess after rounding, as RISC-V).
Square roots are irrational, so they are rounded from an integer square
root plus a sticky half unit far below the last place. It handles every
mode, which also lets the tests cross-check it against the host FPU.

Output: for each OP:RM, COUNT records of five little-endian u64 (a, b, c,
result, fflags), as fpu-ref.c writes. Operands are finite; OP numbering
is fpu-ref.c's (FMT * 32 + BASE).
"""

import random
import struct
import sys
from fractions import Fraction
from math import isqrt

ADD, SUB, MUL, DIV, SQRT, MADD, MSUB, NMSUB, NMADD = range(9)
CVT, FROM_W, FROM_WU, FROM_L, FROM_LU = 15, 20, 21, 22, 23
RNE, RTZ, RDN, RUP, RMM = range(5)
NV, DZ, OF, UF, NX = 0x10, 0x08, 0x04, 0x02, 0x01


class Fmt:
    def __init__(self, frac, expbits):
        self.frac = frac
        self.emax_field = (1 << expbits) - 1
        self.bias = (1 << (expbits - 1)) - 1
        self.emin = 1 - self.bias
        self.sign = 1 << (frac + expbits)


F32, F64 = Fmt(23, 8), Fmt(52, 11)


def pow2(e):
    return Fraction(1 << e) if e >= 0 else Fraction(1, 1 << -e)


def value(f, bits):
    """Exact value of a finite encoding, and its sign (for zeros)."""
    s = 1 if bits & f.sign else 0
    e = (bits >> f.frac) & f.emax_field
    m = bits & ((1 << f.frac) - 1)
    if e == 0:
        v = m * pow2(f.emin - f.frac)
    else:
        v = ((1 << f.frac) | m) * pow2(e - f.bias - f.frac)
    return (-v if s else v), s


def exponent(a):
    """floor(log2(a)) for a positive Fraction."""
    e = a.numerator.bit_length() - a.denominator.bit_length()
    return e if a >= pow2(e) else e - 1


def round_to(f, q, rm, zero_sign=0):
    """Round the exact non-zero Fraction q into format f: (bits, flags)."""
    if q == 0:
        return (f.sign if zero_sign else 0), 0
    sign = q < 0
    a = -q if sign else q
    e = exponent(a)

    def at(qe):  # a rounded to a multiple of 2^qe
        s = a / pow2(qe)
        n = s.numerator // s.denominator
        rem = s - n
        if rm == RNE:
            up = rem > Fraction(1, 2) or (rem == Fraction(1, 2) and n & 1)
        elif rm == RMM:
            up = rem >= Fraction(1, 2)
        elif rm == RTZ:
            up = False
        elif rm == RDN:
            up = rem != 0 and sign
        else:
            up = rem != 0 and not sign
        return (n + up) * pow2(qe), rem != 0

    r, inexact = at(max(e, f.emin) - f.frac)
    unbounded, _ = at(e - f.frac)
    tiny = unbounded < pow2(f.emin)
    sbit = f.sign if sign else 0
    if r >= pow2(f.bias + 1):
        away = rm in (RNE, RMM) or (rm == RUP and not sign) or (rm == RDN and sign)
        if away:
            return sbit | (f.emax_field << f.frac), OF | NX
        return sbit | ((f.emax_field - 1) << f.frac) | ((1 << f.frac) - 1), OF | NX
    flags = (NX if inexact else 0) | (UF if tiny and inexact else 0)
    if r == 0:
        return sbit, flags
    er = exponent(r)
    if er < f.emin:
        return sbit | int(r / pow2(f.emin - f.frac)), flags
    m = int(r / pow2(er - f.frac)) - (1 << f.frac)
    return sbit | ((er + f.bias) << f.frac) | m, flags


def sqrt_proxy(a):
    """A rational that rounds like sqrt(a) at any precision up to ~100 bits."""
    # a = n * 2^k; scale by an even power so the integer root has ~120 bits.
    k = exponent(a) - 240
    k -= k & 1
    n = a / pow2(k)
    n_int = n.numerator // n.denominator
    exact_int = n == n_int
    r = isqrt(n_int)
    exact = exact_int and r * r == n_int
    root = Fraction(r) if exact else Fraction(2 * r + 1, 2)
    return root * pow2(k // 2)


def compute(op, rm, a, b, c):
    f = F64 if op >= 32 else F32
    base = op & 31
    if base >= FROM_W:
        v = a
        if base == FROM_W:
            v = ((v & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000
        elif base == FROM_WU:
            v &= 0xFFFFFFFF
        elif base == FROM_L:
            v = (v ^ (1 << 63)) - (1 << 63)
        return round_to(f, Fraction(v), rm)
    if base == CVT:  # binary64 -> binary32
        x, sx = value(F64, a)
        return round_to(F32, x, rm, sx)
    x, sx = value(f, a)
    y, sy = value(f, b)
    z, sz = value(f, c)
    zero_rdn = 1 if rm == RDN else 0
    if base in (ADD, SUB):
        if base == SUB:
            y, sy = -y, sy ^ 1
        if x + y == 0:
            zs = sx if (x == 0 and y == 0 and sx == sy) else zero_rdn
            return round_to(f, Fraction(0), rm, zs)
        return round_to(f, x + y, rm)
    if base == MUL:
        return round_to(f, x * y, rm, sx ^ sy)
    if base == DIV:
        return round_to(f, x / y, rm, sx ^ sy)
    if base == SQRT:
        return round_to(f, sqrt_proxy(x), rm) if x != 0 else round_to(f, x, rm, sx)
    # fused multiply-add forms
    sp = sx ^ sy
    p = x * y
    if base in (NMSUB, NMADD):
        p, sp = -p, sp ^ 1
    if base in (MSUB, NMADD):
        z, sz = -z, sz ^ 1
    if p + z == 0:
        zs = sp if (p == 0 and z == 0 and sp == sz) else zero_rdn
        return round_to(f, Fraction(0), rm, zs)
    return round_to(f, p + z, rm)


def gen(rng, f):
    """A finite value biased toward the edges, like fpu-ref.c's gen()."""
    s = rng.getrandbits(1)
    fracmask = (1 << f.frac) - 1
    k = rng.randrange(8)
    m = rng.getrandbits(f.frac)
    if k == 0:
        m = 0
    elif k == 1:
        m = fracmask
    elif k == 2:
        m &= ~((1 << rng.randrange(f.frac)) - 1)  # trailing zeros: ties
    elif k == 3:
        m = 1 << rng.randrange(f.frac)
    k = rng.randrange(12)
    if k == 0:
        e, m = 0, 0
    elif k in (1, 2):
        e, m = 0, (m or 1)
    elif k == 3:
        e = 1 + rng.randrange(3)
    elif k == 4:
        e = f.emax_field - 1 - rng.randrange(3)
    elif k == 5:
        e = 1 + rng.randrange(f.emax_field - 1)
    elif k == 6:
        e = max(1, f.bias // 2 - rng.randrange(f.frac + 4))
    else:
        e = f.bias - 20 + rng.randrange(40)
    return (f.sign if s else 0) | (e << f.frac) | m


def gen_int(rng):
    v = rng.getrandbits(64) >> rng.randrange(64)
    k = rng.randrange(5)
    if k == 0:
        v = rng.randrange(5) - 2
    elif k == 1:
        # p+1 or p+2 significant bits ending in 1: ties for the rounding
        w = rng.choice((25, 26, 54, 55))
        v = ((1 << (w - 1)) | rng.getrandbits(w - 1) | 1) << rng.randrange(64 - w)
    if rng.getrandbits(1):
        v = -v
    return v & ((1 << 64) - 1)


def operands(rng, op):
    f = F64 if op >= 32 else F32
    base = op & 31
    if base >= FROM_W:
        return gen_int(rng), 0, 0
    if base == CVT:
        e = rng.randrange(300) - 150
        if rng.randrange(3):
            e = rng.choice((-150, -149, -127, -126, -125, 0, 126, 127, 128)) + rng.randrange(3) - 1
        m = rng.getrandbits(52)
        if rng.getrandbits(1):
            m &= ~((1 << (rng.randrange(29) + 1)) - 1)
            m |= 1 << 28  # a binary32 tie, or close
        return (rng.getrandbits(1) << 63) | ((1023 + e) << 52) | m, 0, 0
    a, b, c = gen(rng, f), gen(rng, f), gen(rng, f)
    if base == DIV and (b & (f.sign - 1)) == 0:
        b |= 1 << f.frac
    if base == SQRT:
        a &= f.sign - 1
    if base in (ADD, SUB) and rng.randrange(3) == 0:
        # a half-unit (or close) addend: ties for RMM
        ea = (a >> f.frac) & f.emax_field
        eb = max(0, ea - f.frac - 1 + rng.randrange(3) - 1)
        b = (rng.getrandbits(1) * f.sign) | (eb << f.frac) | (rng.getrandbits(2) << (f.frac - 2) if eb else 1)
    return a, b, c


def main():
    seed, count = int(sys.argv[1]), int(sys.argv[2])
    out = sys.stdout.buffer
    for spec in sys.argv[3:]:
        op, rm = (int(t) for t in spec.split(":"))
        rng = random.Random(seed * 1000003 + op * 7 + rm)
        for _ in range(count):
            a, b, c = operands(rng, op)
            r, fl = compute(op, rm, a, b, c)
            out.write(struct.pack("<5Q", a, b, c, r, fl))


if __name__ == "__main__":
    main()
