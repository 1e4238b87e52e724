/*
 * rv64a - A extension: every AMO in .w and .d form (returned old value,
 * sign extension of .w results, new memory value), lr/sc success, sc
 * failure without a reservation / after a completed sc / to another
 * address, and an lr/sc retry loop.
 */
#include "guest.h"

static volatile uint64_t cell[32] __attribute__((aligned(64)));

#define AMO(op, p, v) ({ uint64_t __r; \
	__asm__ volatile (op " %0, %2, (%1)" : "=r"(__r) : "r"(p), "r"((uint64_t)(v)) : "memory"); __r; })

#define TEST_D(op, init, v, want_mem) do { cell[0] = (init); \
	uint64_t __o = AMO(op, &cell[0], v); \
	check(op " old", __o, (init)); \
	check(op " mem", cell[0], (want_mem)); } while (0)
/* .w: memory word is the low half of cell[0]; upper half must stay untouched */
#define TEST_W(op, init32, v, want32, want_old) do { \
	cell[0] = 0x5a5a5a5a00000000UL | (uint32_t)(init32); \
	uint64_t __o = AMO(op, &cell[0], v); \
	check(op " old", __o, (want_old)); \
	check(op " mem", cell[0], 0x5a5a5a5a00000000UL | (uint32_t)(want32)); } while (0)

static void amos(void)
{
	TEST_D("amoswap.d", 0x1111111111111111UL, 0x2222222222222222UL, 0x2222222222222222UL);
	TEST_D("amoadd.d", 0xffffffffffffffffUL, 2, 1);
	TEST_D("amoand.d", 0xff00ff00ff00ff00UL, 0x0ff00ff00ff00ff0UL, 0x0f000f000f000f00UL);
	TEST_D("amoor.d", 0xff00000000000000UL, 0xff, 0xff000000000000ffUL);
	TEST_D("amoxor.d", 0xaaaaaaaaaaaaaaaaUL, 0xffffffff00000000UL, 0x55555555aaaaaaaaUL);
	TEST_D("amomax.d", 0xffffffffffffffffUL, 1, 1);
	TEST_D("amomin.d", 0xffffffffffffffffUL, 1, 0xffffffffffffffffUL);
	TEST_D("amomaxu.d", 0xffffffffffffffffUL, 1, 0xffffffffffffffffUL);
	TEST_D("amominu.d", 0xffffffffffffffffUL, 1, 1);
	TEST_D("amomin.d", 0x8000000000000000UL, 0x7fffffffffffffffUL, 0x8000000000000000UL);

	TEST_W("amoswap.w", 0x80000000, 0x12345678, 0x12345678, 0xffffffff80000000UL);
	TEST_W("amoadd.w", 0xffffffff, 0x2, 0x1, 0xffffffffffffffffUL);
	TEST_W("amoadd.w", 0x7fffffff, 0x1, 0x80000000, 0x7fffffff);
	TEST_W("amoand.w", 0xf0f0f0f0, 0xff00ff00, 0xf000f000, 0xfffffffff0f0f0f0UL);
	TEST_W("amoor.w", 0x0000000f, 0x80000000, 0x8000000f, 0xf);
	TEST_W("amoxor.w", 0xffff0000, 0xffffffff, 0x0000ffff, 0xffffffffffff0000UL);
	TEST_W("amomax.w", 0x80000000, 0x1, 0x1, 0xffffffff80000000UL);
	TEST_W("amomin.w", 0x80000000, 0x1, 0x80000000, 0xffffffff80000000UL);
	TEST_W("amomaxu.w", 0x80000000, 0x1, 0x80000000, 0xffffffff80000000UL);
	TEST_W("amominu.w", 0x80000000, 0x1, 0x1, 0xffffffff80000000UL);
	/* .w operand: only the low 32 bits of rs2 count */
	TEST_W("amomax.w", 0x00000005, 0x00000001fffffffeUL, 0x5, 0x5);

	cell[0] = 7;
	__asm__ volatile ("amoadd.d zero, %1, (%0)" :: "r"(&cell[0]), "r"(3L) : "memory");
	check("amoadd.d rd=x0", cell[0], 10);
	cell[1] = 0x100;
	check("amoadd.d aqrl", AMO("amoadd.d.aqrl", &cell[1], 1), 0x100);
	check("amoadd.d aqrl mem", cell[1], 0x101);
}

static uint64_t lr_d(volatile uint64_t *p)
{
	uint64_t r;
	__asm__ volatile ("lr.d %0, (%1)" : "=r"(r) : "r"(p) : "memory");
	return r;
}

static uint64_t sc_d(volatile uint64_t *p, uint64_t v)
{
	uint64_t r;
	__asm__ volatile ("sc.d %0, %2, (%1)" : "=r"(r) : "r"(p), "r"(v) : "memory");
	return r;
}

static void lrsc(void)
{
	uint64_t r, v;

	cell[0] = 0x1234;
	v = lr_d(&cell[0]);
	r = sc_d(&cell[0], 0x5678);
	check("lr.d value", v, 0x1234);
	check("sc.d success", r, 0);
	check("sc.d stored", cell[0], 0x5678);

	r = sc_d(&cell[0], 0x9999);
	check("sc.d after sc fails", r != 0, 1);
	check("sc.d failed no store", cell[0], 0x5678);

	/* lr and sc to different addresses (different 64-byte granules) */
	cell[16] = 1;
	v = lr_d(&cell[0]);
	r = sc_d(&cell[16], 2);
	check("sc.d other address fails", r != 0, 1);
	check("sc.d other address no store", cell[16], 1);

	/* lr.w sign-extends; sc.w writes 32 bits */
	cell[2] = 0x1111111180000000UL;
	__asm__ volatile ("lr.w %0, (%2)\n\tsc.w %1, %3, (%2)"
			  : "=&r"(v), "=&r"(r) : "r"(&cell[2]), "r"(0xabcdef0012345678UL) : "memory");
	check("lr.w sext", v, 0xffffffff80000000UL);
	check("sc.w success", r, 0);
	check("sc.w stored 32 bits", cell[2], 0x1111111112345678UL);

	/* lr/sc retry loop: atomic increment 1000 times */
	cell[3] = 0;
	for (int i = 0; i < 1000; i++) {
		__asm__ volatile ("1: lr.d.aq t0, (%0)\n\taddi t0, t0, 1\n\t"
				  "sc.d.rl t1, t0, (%0)\n\tbnez t1, 1b"
				  :: "r"(&cell[3]) : "t0", "t1", "memory");
	}
	check("lr/sc increment loop", cell[3], 1000);
}

int main(unsigned long hartid, void *dtb)
{
	printf("# rv64a\n");
	amos();
	lrsc();
	return check_summary();
}
