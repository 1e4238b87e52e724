/*
 * fp-rounding - F/D arithmetic and conversions in all five rounding modes
 * (RNE, RTZ, RDN, RUP, RMM) with the exact result bits and fflags of each,
 * using the static rounding mode in the instruction and the dynamic one
 * (frm). Expected values are in fp-rounding-table.h, generated on the
 * host by fp-rounding-gen.c. Then a few hand-checked cases: NaN boxing,
 * canonical NaNs, fmin/fmax, comparisons, fclass, sign injection, sticky
 * flags.
 */
#include "guest.h"

enum op {
	FADD_D, FSUB_D, FMUL_D, FDIV_D, FSQRT_D, FMADD_D,
	FADD_S, FSUB_S, FMUL_S, FDIV_S, FSQRT_S, FMADD_S,
	FCVT_W_D, FCVT_WU_D, FCVT_L_D, FCVT_LU_D, FCVT_W_S,
	FCVT_S_D, FCVT_D_L, FCVT_S_W, FCVT_S_L,
};

struct fp_case {
	enum op op;
	const char *name;
	uint64_t a, b, c;
	uint64_t want[5];
	uint8_t flags[5];
};

#include "fp-rounding-table.h"

#define NCASES (sizeof(fp_cases) / sizeof(fp_cases[0]))
#define RM_DYN 5

/* One asm block per (shape, rounding mode): move operands in, clear
 * fflags, run the instruction, read fflags, move the result out. */
#define R1(insn, rms, mi, mo) __asm__ volatile (mi " ft0, %2\n\tfsflags zero\n\t" \
	insn " ft3, ft0, " rms "\n\tfrflags %1\n\t" mo " %0, ft3" \
	: "=r"(r), "=r"(f) : "r"(a) : "ft0", "ft3")
#define R2(insn, rms, mi, mo) __asm__ volatile (mi " ft0, %2\n\t" mi " ft1, %3\n\tfsflags zero\n\t" \
	insn " ft3, ft0, ft1, " rms "\n\tfrflags %1\n\t" mo " %0, ft3" \
	: "=r"(r), "=r"(f) : "r"(a), "r"(b) : "ft0", "ft1", "ft3")
#define R3(insn, rms, mi, mo) __asm__ volatile (mi " ft0, %2\n\t" mi " ft1, %3\n\t" mi " ft2, %4\n\t" \
	"fsflags zero\n\t" insn " ft3, ft0, ft1, ft2, " rms "\n\tfrflags %1\n\t" mo " %0, ft3" \
	: "=r"(r), "=r"(f) : "r"(a), "r"(b), "r"(c) : "ft0", "ft1", "ft2", "ft3")
#define F2I(insn, rms, mi, mo) __asm__ volatile (mi " ft0, %2\n\tfsflags zero\n\t" \
	insn " %0, ft0, " rms "\n\tfrflags %1" : "=r"(r), "=r"(f) : "r"(a) : "ft0")
#define I2F(insn, rms, mi, mo) __asm__ volatile ("fsflags zero\n\t" \
	insn " ft3, %2, " rms "\n\tfrflags %1\n\t" mo " %0, ft3" : "=r"(r), "=r"(f) : "r"(a) : "ft3")

#define ALL_RM(shape, insn, mi, mo) switch (rm) { \
	case 0: shape(insn, "rne", mi, mo); break; \
	case 1: shape(insn, "rtz", mi, mo); break; \
	case 2: shape(insn, "rdn", mi, mo); break; \
	case 3: shape(insn, "rup", mi, mo); break; \
	case 4: shape(insn, "rmm", mi, mo); break; \
	default: shape(insn, "dyn", mi, mo); break; }

static uint64_t run(enum op op, int rm, uint64_t a, uint64_t b, uint64_t c, uint64_t *fl)
{
	uint64_t r = 0, f = 0;
	switch (op) {
	case FADD_D:    ALL_RM(R2, "fadd.d", "fmv.d.x", "fmv.x.d"); break;
	case FSUB_D:    ALL_RM(R2, "fsub.d", "fmv.d.x", "fmv.x.d"); break;
	case FMUL_D:    ALL_RM(R2, "fmul.d", "fmv.d.x", "fmv.x.d"); break;
	case FDIV_D:    ALL_RM(R2, "fdiv.d", "fmv.d.x", "fmv.x.d"); break;
	case FSQRT_D:   ALL_RM(R1, "fsqrt.d", "fmv.d.x", "fmv.x.d"); break;
	case FMADD_D:   ALL_RM(R3, "fmadd.d", "fmv.d.x", "fmv.x.d"); break;
	case FADD_S:    ALL_RM(R2, "fadd.s", "fmv.w.x", "fmv.x.w"); break;
	case FSUB_S:    ALL_RM(R2, "fsub.s", "fmv.w.x", "fmv.x.w"); break;
	case FMUL_S:    ALL_RM(R2, "fmul.s", "fmv.w.x", "fmv.x.w"); break;
	case FDIV_S:    ALL_RM(R2, "fdiv.s", "fmv.w.x", "fmv.x.w"); break;
	case FSQRT_S:   ALL_RM(R1, "fsqrt.s", "fmv.w.x", "fmv.x.w"); break;
	case FMADD_S:   ALL_RM(R3, "fmadd.s", "fmv.w.x", "fmv.x.w"); break;
	case FCVT_W_D:  ALL_RM(F2I, "fcvt.w.d", "fmv.d.x", ""); break;
	case FCVT_WU_D: ALL_RM(F2I, "fcvt.wu.d", "fmv.d.x", ""); break;
	case FCVT_L_D:  ALL_RM(F2I, "fcvt.l.d", "fmv.d.x", ""); break;
	case FCVT_LU_D: ALL_RM(F2I, "fcvt.lu.d", "fmv.d.x", ""); break;
	case FCVT_W_S:  ALL_RM(F2I, "fcvt.w.s", "fmv.w.x", ""); break;
	case FCVT_S_D:  ALL_RM(R1, "fcvt.s.d", "fmv.d.x", "fmv.x.w"); break;
	case FCVT_D_L:  ALL_RM(I2F, "fcvt.d.l", "", "fmv.x.d"); break;
	case FCVT_S_W:  ALL_RM(I2F, "fcvt.s.w", "", "fmv.x.w"); break;
	case FCVT_S_L:  ALL_RM(I2F, "fcvt.s.l", "", "fmv.x.w"); break;
	}
	*fl = f;
	return r;
}

static int single_result(enum op op)
{
	return (op >= FADD_S && op <= FMADD_S) || op == FCVT_S_D || op == FCVT_S_W ||
	       op == FCVT_S_L;
}

static char namebuf[96];

static const char *cat(const char *a, const char *b, const char *c)
{
	char *p = namebuf;
	for (const char *s = a; *s; s++) *p++ = *s;
	for (const char *s = b; *s; s++) *p++ = *s;
	for (const char *s = c; *s; s++) *p++ = *s;
	*p = 0;
	return namebuf;
}

static void table(void)
{
	static const char *rmname[5] = { " rne", " rtz", " rdn", " rup", " rmm" };
	for (unsigned i = 0; i < NCASES; i++) {
		const struct fp_case *t = &fp_cases[i];
		uint64_t mask = single_result(t->op) ? 0xffffffffUL : ~0UL;
		uint64_t v, f;
		for (int rm = 0; rm < 5; rm++) {
			v = run(t->op, rm, t->a, t->b, t->c, &f);
			check(cat(t->name, rmname[rm], ""), v & mask, t->want[rm]);
			check(cat(t->name, rmname[rm], " fflags"), f, t->flags[rm]);
		}
		/* the same through frm (dynamic rounding mode) */
		uint64_t bad = 0;
		for (int rm = 0; rm < 5; rm++) {
			csr_write(frm, rm);
			v = run(t->op, RM_DYN, t->a, t->b, t->c, &f);
			if ((v & mask) != t->want[rm] || f != t->flags[rm])
				bad |= 1 << rm;
		}
		csr_write(frm, 0);
		check(cat(t->name, " frm rne..rmm", ""), bad, 0);
	}
}

#define QNAN_D 0x7ff8000000000000UL
#define SNAN_D 0x7ff0000000000001UL
#define ONE_D  0x3ff0000000000000UL


#define CMP(insn, a, b) ({ uint64_t __r, __f; __asm__ volatile ( \
	"fmv.d.x ft0, %2\n\tfmv.d.x ft1, %3\n\tfsflags zero\n\t" insn " %0, ft0, ft1\n\tfrflags %1" \
	: "=r"(__r), "=r"(__f) : "r"((uint64_t)(a)), "r"((uint64_t)(b)) : "ft0", "ft1"); \
	fl = __f; __r; })
#define OPD(insn, a, b) ({ uint64_t __r, __f; __asm__ volatile ( \
	"fmv.d.x ft0, %2\n\tfmv.d.x ft1, %3\n\tfsflags zero\n\t" insn " ft2, ft0, ft1\n\tfrflags %1\n\tfmv.x.d %0, ft2" \
	: "=r"(__r), "=r"(__f) : "r"((uint64_t)(a)), "r"((uint64_t)(b)) : "ft0", "ft1", "ft2"); \
	fl = __f; __r; })
#define CLASS(insn, mv, a) ({ uint64_t __r; __asm__ volatile ( \
	mv " ft0, %1\n\t" insn " %0, ft0" : "=r"(__r) : "r"((uint64_t)(a)) : "ft0"); __r; })

static void misc(void)
{
	uint64_t r, fl;

	/* NaN boxing */
	__asm__ volatile ("fmv.d.x ft0, %1\n\tfadd.s ft1, ft0, ft0\n\tfmv.x.d %0, ft1"
			  : "=r"(r) : "r"(0x000000003f800000UL) : "ft0", "ft1");
	check("unboxed single input is NaN", r, 0xffffffff7fc00000UL);
	__asm__ volatile ("fmv.w.x ft0, %1\n\tfmv.x.d %0, ft0" : "=r"(r) : "r"(0x3f800000UL) : "ft0");
	check("fmv.w.x NaN-boxes", r, 0xffffffff3f800000UL);
	__asm__ volatile ("fmv.w.x ft0, %1\n\tfmv.x.w %0, ft0" : "=r"(r) : "r"(0xbf800000UL) : "ft0");
	check("fmv.x.w sign-extends", r, 0xffffffffbf800000UL);
	{
		static uint32_t w = 0x40490fdb;
		__asm__ volatile ("flw ft0, %1\n\tfmv.x.d %0, ft0" : "=r"(r) : "m"(w) : "ft0");
		check("flw NaN-boxes", r, 0xffffffff40490fdbUL);
	}
	check("fclass.s unboxed = qNaN", CLASS("fclass.s", "fmv.d.x", 0x3f800000UL), 1 << 9);

	/* min/max: -0 < +0, NaN operands */
	check("fmin.d -0,+0", OPD("fmin.d", 0x8000000000000000UL, 0), 0x8000000000000000UL);
	check("fmax.d -0,+0", OPD("fmax.d", 0x8000000000000000UL, 0), 0);
	check("fmin.d qnan,1", OPD("fmin.d", QNAN_D, ONE_D), ONE_D);
	check("fmin.d qnan,1 fflags", fl, 0);
	check("fmax.d 1,snan", OPD("fmax.d", ONE_D, SNAN_D), ONE_D);
	check("fmax.d 1,snan fflags", fl, 0x10);
	check("fmin.d nan,nan canonical", OPD("fmin.d", 0x7ff8000000000123UL, QNAN_D), QNAN_D);

	/* compares */
	check("feq.d qnan", CMP("feq.d", QNAN_D, ONE_D), 0);
	check("feq.d qnan fflags", fl, 0);
	check("feq.d snan fflags", (CMP("feq.d", SNAN_D, ONE_D), fl), 0x10);
	check("flt.d qnan", CMP("flt.d", QNAN_D, ONE_D), 0);
	check("flt.d qnan fflags", fl, 0x10);
	check("fle.d -0,+0", CMP("fle.d", 0x8000000000000000UL, 0), 1);
	check("flt.d -0,+0", CMP("flt.d", 0x8000000000000000UL, 0), 0);
	check("feq.d -0,+0", CMP("feq.d", 0x8000000000000000UL, 0), 1);

	/* fclass.d */
	check("fclass -inf", CLASS("fclass.d", "fmv.d.x", 0xfff0000000000000UL), 1 << 0);
	check("fclass -normal", CLASS("fclass.d", "fmv.d.x", 0xbff0000000000000UL), 1 << 1);
	check("fclass -subnormal", CLASS("fclass.d", "fmv.d.x", 0x8000000000000001UL), 1 << 2);
	check("fclass -0", CLASS("fclass.d", "fmv.d.x", 0x8000000000000000UL), 1 << 3);
	check("fclass +0", CLASS("fclass.d", "fmv.d.x", 0), 1 << 4);
	check("fclass +subnormal", CLASS("fclass.d", "fmv.d.x", 0x000fffffffffffffUL), 1 << 5);
	check("fclass +normal", CLASS("fclass.d", "fmv.d.x", ONE_D), 1 << 6);
	check("fclass +inf", CLASS("fclass.d", "fmv.d.x", 0x7ff0000000000000UL), 1 << 7);
	check("fclass snan", CLASS("fclass.d", "fmv.d.x", SNAN_D), 1 << 8);
	check("fclass qnan", CLASS("fclass.d", "fmv.d.x", QNAN_D), 1 << 9);

	/* sign injection keeps NaN payloads */
	check("fsgnj.d nan payload", OPD("fsgnj.d", 0x7ff8000000000123UL, 0xbff0000000000000UL),
	      0xfff8000000000123UL);
	check("fsgnjn.d", OPD("fsgnjn.d", ONE_D, ONE_D), 0xbff0000000000000UL);
	check("fsgnjx.d", OPD("fsgnjx.d", 0xbff0000000000000UL, 0xc000000000000000UL), ONE_D);
	check("fsgnj.d fflags", fl, 0);

	/* fcvt.d.s of a signalling NaN */
	__asm__ volatile ("fmv.w.x ft0, %2\n\tfsflags zero\n\tfcvt.d.s ft1, ft0\n\t"
			  "frflags %1\n\tfmv.x.d %0, ft1" : "=r"(r), "=r"(fl) : "r"(0x7f800001UL) : "ft0", "ft1");
	check("fcvt.d.s snan", r, QNAN_D);
	check("fcvt.d.s snan fflags", fl, 0x10);

	/* fflags accumulate */
	__asm__ volatile ("fmv.d.x ft0, %1\n\tfmv.d.x ft1, zero\n\tfsflags zero\n\t"
			  "fdiv.d ft2, ft0, ft1\n\tfsqrt.d ft2, ft0\n\tfrflags %0"
			  : "=r"(fl) : "r"(0x4000000000000000UL) : "ft0", "ft1", "ft2");
	check("fflags sticky DZ|NX", fl, 0x09);
	check("fcsr shows flags", csr_read(fcsr), 0x09);
	csr_write(fflags, 0);
}

int main(unsigned long hartid, void *dtb)
{
	printf("# fp-rounding\n");
	table();
	misc();
	return check_summary();
}
