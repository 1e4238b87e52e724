/*
 * rv64m - M extension: mul/mulh/mulhsu/mulhu/mulw, div/divu/rem/remu and
 * the W forms, including division by zero and signed overflow
 * (-2^63 / -1), whose results are fixed by the ISA (no trap).
 */
#include "guest.h"

#define RR(op, a, b) ({ uint64_t __r; \
	__asm__ volatile (op " %0, %1, %2" : "=r"(__r) : "r"((uint64_t)(a)), "r"((uint64_t)(b))); __r; })

#define MIN64 0x8000000000000000UL
#define MAX64 0x7fffffffffffffffUL
#define ONES  0xffffffffffffffffUL

static void mul(void)
{
	check("mul", RR("mul", 123456789, 987654321), 121932631112635269UL);
	check("mul neg", RR("mul", -3L, 7), (uint64_t)-21L);
	check("mul wrap", RR("mul", 0x100000001UL, 0x100000001UL), 0x0000000200000001UL);
	check("mul min*-1", RR("mul", MIN64, ONES), MIN64);
	check("mulh -1*-1", RR("mulh", ONES, ONES), 0);
	check("mulh min*min", RR("mulh", MIN64, MIN64), 0x4000000000000000UL);
	check("mulh max*max", RR("mulh", MAX64, MAX64), 0x3fffffffffffffffUL);
	check("mulh min*max", RR("mulh", MIN64, MAX64), 0xc000000000000000UL);
	check("mulh -1*1", RR("mulh", ONES, 1), ONES);
	check("mulhu max*max", RR("mulhu", ONES, ONES), 0xfffffffffffffffeUL);
	check("mulhu", RR("mulhu", 0x8000000000000000UL, 4), 2);
	check("mulhsu -1*max", RR("mulhsu", ONES, ONES), ONES);
	check("mulhsu -2*3", RR("mulhsu", -2L, 3), ONES);
	check("mulhsu 2*2^63", RR("mulhsu", 2, MIN64), 1);
	check("mulhsu min*max", RR("mulhsu", MIN64, ONES), 0x8000000000000000UL);
	check("mulw sext", RR("mulw", 0x7fffffff, 2), 0xfffffffffffffffeUL);
	check("mulw upper ignored", RR("mulw", 0xabcdef0100000003UL, 0x1234567800000005UL), 15);
	check("mulw neg", RR("mulw", 0xffffffffUL, 0xffffffffUL), 1);
}

static void div(void)
{
	check("div", RR("div", 100, 7), 14);
	check("div trunc neg", RR("div", -7L, 2), (uint64_t)-3L);
	check("div neg divisor", RR("div", 7, -2L), (uint64_t)-3L);
	check("div by zero", RR("div", 42, 0), ONES);
	check("div neg by zero", RR("div", -42L, 0), ONES);
	check("div overflow", RR("div", MIN64, ONES), MIN64);
	check("divu", RR("divu", ONES, 2), MAX64);
	check("divu by zero", RR("divu", 42, 0), ONES);
	check("rem", RR("rem", 100, 7), 2);
	check("rem sign of dividend", RR("rem", -7L, 2), ONES);
	check("rem neg divisor", RR("rem", 7, -2L), 1);
	check("rem by zero", RR("rem", -42L, 0), (uint64_t)-42L);
	check("rem overflow", RR("rem", MIN64, ONES), 0);
	check("remu", RR("remu", ONES, 10), 5);
	check("remu by zero", RR("remu", ONES, 0), ONES);
}

static void divw(void)
{
	check("divw", RR("divw", 0xffffffff00000064UL, 7), 14);
	check("divw neg", RR("divw", 0xfffffff9UL, 2), ONES - 2);
	check("divw by zero", RR("divw", 42, 0), ONES);
	check("divw overflow", RR("divw", 0x80000000UL, 0xffffffffUL), 0xffffffff80000000UL);
	check("divuw", RR("divuw", 0xfffffffeUL, 1), 0xfffffffffffffffeUL);
	check("divuw small", RR("divuw", 0x1ffffffffUL, 0x100000002UL), 0x7fffffff);
	check("divuw by zero", RR("divuw", 42, 0), ONES);
	check("remw", RR("remw", 0xfffffff9UL, 2), ONES);
	check("remw by zero", RR("remw", 0x1234567887654321UL, 0), 0xffffffff87654321UL);
	check("remw overflow", RR("remw", 0x80000000UL, 0xffffffffUL), 0);
	check("remuw", RR("remuw", 0xffffffffUL, 10), 5);
	check("remuw by zero sext", RR("remuw", 0x80000001UL, 0), 0xffffffff80000001UL);
}

int main(unsigned long hartid, void *dtb)
{
	printf("# rv64m\n");
	mul();
	div();
	divw();
	return check_summary();
}
