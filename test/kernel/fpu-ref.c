// Reference vectors for the F/D extension tests, from the host's FPU.
//
//   fpu-ref OP RM COUNT SEED  >  records
//
// Writes COUNT records of five little-endian u64: a, b, c, result, flags
// (RISC-V fflags bits). Operands are drawn with a bias toward the edges
// (zeros, subnormals, infinities, NaNs, values near overflow/underflow,
// cancelling sums, integers near conversion limits). Results come from the
// x86-64 SSE/FMA unit under <fenv.h> rounding modes: it is IEEE 754 with
// tininess detected after rounding, like RISC-V. RM is 0..3 (RNE, RTZ,
// RDN, RUP); x86 has no round-to-max-magnitude, fpu-rmm.py covers RM 4.
//
// Where x86 differs from RISC-V the RISC-V rule is applied here: NaN
// results (compared by NaN-ness only, so left as they are), NV for
// inf*0 + qNaN, float->int saturation, and the operations x86 has no
// instruction for (min/max, fclass, unsigned conversions) which are
// written from the spec text.
//
// OP = FMT * 32 + BASE, FMT 0 = binary32, 1 = binary64; BASE as in the
// table in fpu-harness.ts.
//
// Build: gcc -O1 -frounding-math -fsignaling-nans -mfma fpu-ref.c -lm

#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  ADD, SUB, MUL, DIV, SQRT, MADD, MSUB, NMSUB, NMADD, MIN, MAX, EQ, LT, LE,
  CLASS, CVT, TO_W, TO_WU, TO_L, TO_LU, FROM_W, FROM_WU, FROM_L, FROM_LU
};
enum { NV = 0x10, DZ = 0x08, OF = 0x04, UF = 0x02, NX = 0x01 };

static uint64_t rng_state;
static uint64_t rnd(void) { // xorshift64*
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1DULL;
}
static uint32_t below(uint32_t n) { return (uint32_t)((rnd() >> 32) % n); }

// ---- operand generation ---------------------------------------------------

typedef struct { int frac, emax, bias; } fmt_t;
static const fmt_t F32 = {23, 255, 127}, F64 = {52, 2047, 1023};

static uint64_t mant(const fmt_t *f) {
  uint64_t m = rnd(), mask = (1ULL << f->frac) - 1;
  switch (below(8)) {
    case 0: return 0;
    case 1: return mask;                             // all ones
    case 2: return mask & (rnd() >> below(64));      // few high bits clear
    case 3: return 1ULL << below(f->frac);           // one bit
    case 4: return mask & ~(1ULL << below(f->frac)); // one bit clear
    case 5: return m & mask & ~((1ULL << below(f->frac)) - 1); // trailing zeros
    default: return m & mask;
  }
}

static uint64_t pack(const fmt_t *f, uint64_t s, uint64_t e, uint64_t m) {
  return (s << (f->frac + (f == &F32 ? 8 : 11))) | (e << f->frac) | m;
}

/** A random value with an exponent drawn from where interesting things are. */
static uint64_t gen(const fmt_t *f) {
  uint64_t s = rnd() & 1, e, m = mant(f);
  switch (below(16)) {
    case 0: return pack(f, s, 0, 0);                               // zero
    case 1: return pack(f, s, f->emax, 0);                         // inf
    case 2: return pack(f, s, f->emax, m | (1ULL << (f->frac - 1))); // qNaN
    case 3: return pack(f, s, f->emax, (m & ((1ULL << (f->frac - 1)) - 1)) | 1); // sNaN
    case 4: case 5: return pack(f, s, 0, m ? m : 1);               // subnormal
    case 6: e = 1 + below(3); break;                               // smallest normals
    case 7: e = f->emax - 1 - below(3); break;                     // largest
    case 8: e = below(f->emax); break;                             // anywhere
    case 9: e = f->bias / 2 + below(f->bias); break;               // products overflow
    case 10: e = f->bias / 2 - below(f->frac + 4); if ((int64_t)e < 1) e = 1; break; // products underflow
    default: e = f->bias - 20 + below(40); break;                  // ordinary
  }
  return pack(f, s, e, m);
}

static double d_of(uint64_t b) { double d; memcpy(&d, &b, 8); return d; }
static uint64_t b_of_d(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }
static float f_of(uint64_t b) { uint32_t w = (uint32_t)b; float f; memcpy(&f, &w, 4); return f; }
static uint64_t b_of_f(float f) { uint32_t w; memcpy(&w, &f, 4); return w; }

/** A value close to v (in bits): a neighbour, or v rescaled by a small power of 2. */
static uint64_t near(const fmt_t *f, uint64_t v) {
  int64_t d = (int64_t)below(9) - 4;
  uint64_t mask = f == &F32 ? 0xffffffffULL : ~0ULL;
  if (below(2)) return (v + (uint64_t)d) & mask;
  return (v + ((uint64_t)d << f->frac)) & mask;
}

/** Values around integer conversion limits and half-way points. */
static uint64_t gen_int_edge(const fmt_t *f) {
  static const double bases[] = {0, 1, 2, 3, 2147483648.0, 4294967296.0,
                                 9223372036854775808.0, 18446744073709551616.0, 1e6};
  double v = bases[below(9)];
  double off[] = {0, 0.5, 0.25, 0.75, 1, 1.5, 2.5};
  v += off[below(7)] * (below(2) ? 1 : -1);
  if (below(2)) v = -v;
  if (f == &F32) {
    uint64_t b = b_of_f((float)v);
    return below(3) ? b : near(f, b);
  }
  uint64_t b = b_of_d(v);
  return below(3) ? b : near(f, b);
}

static uint64_t gen_int(void) {
  uint64_t v = rnd() >> below(64);
  switch (below(6)) {
    case 0: v = (uint64_t)below(5) - 2; break;
    case 1: v = (1ULL << below(64)) + (uint64_t)(int64_t)((int)below(5) - 2); break;
    case 2: v = (uint32_t)v; break;
    case 3: v = (uint64_t)(int64_t)(int32_t)v; break;
    default: break;
  }
  if (below(2)) v = -v;
  return v;
}

// ---- reference computation ------------------------------------------------

static int flags_now(void) {
  int x = fetestexcept(FE_ALL_EXCEPT), r = 0;
  if (x & FE_INVALID) r |= NV;
  if (x & FE_DIVBYZERO) r |= DZ;
  if (x & FE_OVERFLOW) r |= OF;
  if (x & FE_UNDERFLOW) r |= UF;
  if (x & FE_INEXACT) r |= NX;
  return r;
}

static int is_snan(const fmt_t *f, uint64_t b) {
  uint64_t e = (b >> f->frac) & f->emax, m = b & ((1ULL << f->frac) - 1);
  return e == (uint64_t)f->emax && m && !(m >> (f->frac - 1));
}

/** fclass from the definitions in the RISC-V spec, via C's classification. */
static uint64_t classify(const fmt_t *f, uint64_t b) {
  int neg = (int)(b >> (f == &F32 ? 31 : 63)) & 1;
  int c = f == &F32 ? fpclassify(f_of(b)) : fpclassify(d_of(b));
  switch (c) {
    case FP_INFINITE: return neg ? 1 << 0 : 1 << 7;
    case FP_NORMAL: return neg ? 1 << 1 : 1 << 6;
    case FP_SUBNORMAL: return neg ? 1 << 2 : 1 << 5;
    case FP_ZERO: return neg ? 1 << 3 : 1 << 4;
    default: return is_snan(f, b) ? 1 << 8 : 1 << 9;
  }
}

/** Saturated RISC-V float->int: base TO_W..TO_LU, x as a double (exact). */
static uint64_t to_int(int base, double x, int rm, int *fl) {
  static const int modes[] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};
  int hi = isnan(x) || !signbit(x);
  uint64_t sat;
  switch (base) {
    case TO_W: sat = hi ? 0x7fffffffULL : 0xffffffff80000000ULL; break;
    case TO_WU: sat = hi ? ~0ULL : 0; break;
    case TO_L: sat = hi ? 0x7fffffffffffffffULL : 0x8000000000000000ULL; break;
    default: sat = hi ? ~0ULL : 0; break;
  }
  if (isnan(x)) { *fl = NV; return sat; }
  // The hardware rounds (cvtsd2si honours MXCSR; llround is ties-away for
  // RMM) and flags NX; the range checks below decide validity.
  int64_t r;
  int big = 0;
  fesetround(modes[rm < 4 ? rm : 0]);
  feclearexcept(FE_ALL_EXCEPT);
  if (fabs(x) >= 9223372036854775808.0) {
    big = 1; // beyond int64: already an integer, exact
    r = 0;
  } else if (rm == 4) {
    double t = round(x);
    r = (int64_t)t;
    feclearexcept(FE_ALL_EXCEPT);
    if (t != x) feraiseexcept(FE_INEXACT);
  } else {
    r = llrint(x);
  }
  int nx = flags_now() & NX;
  fesetround(FE_TONEAREST);
  if (big) {
    if (base == TO_L && x == -9223372036854775808.0) { *fl = 0; return 0x8000000000000000ULL; }
    if (base == TO_LU && x > 0 && x < 18446744073709551616.0) { *fl = 0; return (uint64_t)x; }
    *fl = NV;
    return sat;
  }
  int ok;
  switch (base) {
    case TO_W: ok = r >= INT32_MIN && r <= INT32_MAX; break;
    case TO_WU: ok = r >= 0 && r <= (int64_t)UINT32_MAX; break;
    case TO_L: ok = 1; break;
    default: ok = r >= 0; break;
  }
  if (!ok) { *fl = NV; return sat; }
  *fl = nx;
  if (base == TO_W || base == TO_WU) return (uint64_t)(int64_t)(int32_t)(uint32_t)r;
  return (uint64_t)r;
}

/** RISC-V fmin/fmax written from the spec (IEEE 754-2019 minimumNumber). */
static uint64_t minmax(const fmt_t *f, uint64_t a, uint64_t b, int max, int *fl) {
  double x = f == &F32 ? f_of(a) : d_of(a), y = f == &F32 ? f_of(b) : d_of(b);
  *fl = (is_snan(f, a) || is_snan(f, b)) ? NV : 0;
  if (isnan(x) && isnan(y)) return f == &F32 ? 0x7fc00000ULL : 0x7ff8000000000000ULL;
  if (isnan(x)) return b;
  if (isnan(y)) return a;
  if (x == y) return (signbit(x) != 0) == max ? b : a; // -0 < +0
  return (x < y) != max ? a : b;
}

static void compute(int op, int rm, uint64_t *v, int *fl) {
  static const int modes[] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};
  const fmt_t *f = op >= 32 ? &F64 : &F32;
  int base = op & 31, d = op >= 32;
  uint64_t a = v[0], b = v[1], c = v[2], r = 0;
  if (base == MIN || base == MAX) { v[3] = minmax(f, a, b, base == MAX, fl); return; }
  if (base == CLASS) { v[3] = classify(f, a); *fl = 0; return; }
  if (base >= TO_W && base <= TO_LU) {
    v[3] = to_int(base, d ? d_of(a) : (double)f_of(a), rm, fl);
    return;
  }
  fesetround(modes[rm]);
  feclearexcept(FE_ALL_EXCEPT);
  if (d) {
    volatile double x = d_of(a), y = d_of(b), z = d_of(c), t;
    volatile int cmp;
    switch (base) {
      case ADD: t = x + y; break;
      case SUB: t = x - y; break;
      case MUL: t = x * y; break;
      case DIV: t = x / y; break;
      case SQRT: t = sqrt(x); break;
      case MADD: t = fma(x, y, z); break;
      case MSUB: t = fma(x, y, -z); break;
      case NMSUB: t = fma(-x, y, z); break;
      case NMADD: t = fma(-x, y, -z); break;
      case EQ: cmp = x == y; r = cmp; break;
      case LT: cmp = x < y; r = cmp; break;
      case LE: cmp = x <= y; r = cmp; break;
      case CVT: { volatile float s = (float)x; r = b_of_f(s); break; }
      case FROM_W: t = (double)(int32_t)a; break;
      case FROM_WU: t = (double)(uint32_t)a; break;
      case FROM_L: t = (double)(int64_t)a; break;
      case FROM_LU: t = (double)(uint64_t)a; break;
    }
    if (base <= NMADD || base >= FROM_W) r = b_of_d(t);
  } else {
    volatile float x = f_of(a), y = f_of(b), z = f_of(c), t;
    volatile int cmp;
    switch (base) {
      case ADD: t = x + y; break;
      case SUB: t = x - y; break;
      case MUL: t = x * y; break;
      case DIV: t = x / y; break;
      case SQRT: t = sqrtf(x); break;
      case MADD: t = fmaf(x, y, z); break;
      case MSUB: t = fmaf(x, y, -z); break;
      case NMSUB: t = fmaf(-x, y, z); break;
      case NMADD: t = fmaf(-x, y, -z); break;
      case EQ: cmp = x == y; r = cmp; break;
      case LT: cmp = x < y; r = cmp; break;
      case LE: cmp = x <= y; r = cmp; break;
      case CVT: { volatile double s = (double)x; r = b_of_d(s); break; }
      case FROM_W: t = (float)(int32_t)a; break;
      case FROM_WU: t = (float)(uint32_t)a; break;
      case FROM_L: t = (float)(int64_t)a; break;
      case FROM_LU: t = (float)(uint64_t)a; break;
    }
    if (base <= NMADD || base >= FROM_W) r = b_of_f(t);
  }
  *fl = flags_now();
  fesetround(FE_TONEAREST);
  // RISC-V: inf * 0 is invalid even when the addend is a quiet NaN.
  if (base >= MADD && base <= NMADD) {
    double x = d ? d_of(a) : f_of(a), y = d ? d_of(b) : f_of(b);
    if ((isinf(x) && y == 0) || (x == 0 && isinf(y))) *fl |= NV;
  }
  v[3] = r;
}

static void gen_operands(int op, uint64_t *v) {
  const fmt_t *f = op >= 32 ? &F64 : &F32;
  int base = op & 31;
  if (base >= FROM_W) { v[0] = gen_int(); v[1] = v[2] = 0; return; }
  if (base == CVT && op >= 32 && below(2)) {
    // binary64 values in and around the binary32 range and its edges
    static const int edges[] = {-150, -149, -127, -126, -125, 0, 1, 126, 127, 128};
    int e = below(3) ? edges[below(10)] + (int)below(3) - 1 : (int)below(300) - 150;
    v[0] = ((rnd() & 1) << 63) | ((uint64_t)(1023 + e) << 52) | (rnd() & ((1ULL << 52) - 1));
    if (below(2)) v[0] &= ~((1ULL << (below(29) + 1)) - 1); // ties and near-ties
    v[1] = v[2] = 0;
    return;
  }
  if (base >= TO_W && base <= TO_LU && below(2)) { v[0] = gen_int_edge(f); v[1] = v[2] = 0; return; }
  v[0] = gen(f);
  v[1] = gen(f);
  v[2] = gen(f);
  if ((base == ADD || base == SUB) && below(3) == 0) {
    // Cancellation: b close to -a (or a for SUB).
    v[1] = near(f, v[0]) ^ (base == ADD ? (1ULL << (op >= 32 ? 63 : 31)) : 0);
  }
  if (base >= MADD && base <= NMADD && below(3) == 0) {
    // Cancellation: c close to -(a*b) as the form computes it.
    int negc = base == MSUB || base == NMADD, negp = base >= NMSUB;
    uint64_t p = op >= 32 ? b_of_d(d_of(v[0]) * d_of(v[1])) : b_of_f(f_of(v[0]) * f_of(v[1]));
    uint64_t sb = 1ULL << (op >= 32 ? 63 : 31);
    v[2] = near(f, p) ^ (negc == negp ? sb : 0);
  } else if (base >= MADD && base <= NMADD && below(2) == 0) {
    // c around half a unit in the last place of a*b: the rounding of the
    // sum then hinges on the low half of the exact product (ties, near-ties).
    uint64_t p = op >= 32 ? b_of_d(d_of(v[0]) * d_of(v[1])) : b_of_f(f_of(v[0]) * f_of(v[1]));
    int64_t e = (int64_t)((p >> f->frac) & f->emax) - f->frac - 1 + (int64_t)below(3) - 1;
    if (e > 0 && e < f->emax) v[2] = pack(f, rnd() & 1, (uint64_t)e, below(2) ? 0 : mant(f));
  }
  if ((base == EQ || base == LT || base == LE || base == MIN || base == MAX) && below(4) == 0) {
    v[1] = below(2) ? v[0] : near(f, v[0]);
  }
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: fpu-ref OP RM COUNT SEED\n");
    return 2;
  }
  int op = atoi(argv[1]), rm = atoi(argv[2]);
  long n = atol(argv[3]);
  rng_state = strtoull(argv[4], 0, 0) * 0x9E3779B97F4A7C15ULL + (uint64_t)op * 131 + 7;
  if (rm > 3 && !((op & 31) >= TO_W && (op & 31) <= TO_LU)) {
    fprintf(stderr, "fpu-ref: x86 has no rounding mode %d for op %d\n", rm, op);
    return 2;
  }
  for (long i = 0; i < n; i++) {
    uint64_t v[5];
    int fl;
    gen_operands(op, v);
    compute(op, rm, v, &fl);
    v[4] = (uint64_t)fl;
    fwrite(v, 8, 5, stdout);
  }
  return 0;
}
