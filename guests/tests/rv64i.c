/*
 * rv64i - RV64I base integer instructions: arithmetic, shifts, compares,
 * logic, lui/auipc, branches, jal/jalr, loads/stores, x0, fence.i.
 * Every instruction under test is written in inline assembly so that the
 * compiler cannot fold it away; expected values are hard-coded.
 */
#include "guest.h"

#define RR(op, a, b) ({ uint64_t __r; \
	__asm__ volatile (op " %0, %1, %2" : "=r"(__r) : "r"((uint64_t)(a)), "r"((uint64_t)(b))); __r; })
#define RI(op, a, imm) ({ uint64_t __r; \
	__asm__ volatile (op " %0, %1, %2" : "=r"(__r) : "r"((uint64_t)(a)), "i"(imm)); __r; })
/* 1 if the branch is taken */
#define BR(op, a, b) ({ uint64_t __r; \
	__asm__ volatile ("li %0, 1\n\t" op " %1, %2, 1f\n\tli %0, 0\n1:" \
		: "=&r"(__r) : "r"((uint64_t)(a)), "r"((uint64_t)(b))); __r; })
#define LOAD(op, p) ({ uint64_t __r; \
	__asm__ volatile (op " %0, 0(%1)" : "=r"(__r) : "r"(p) : "memory"); __r; })
#define STORE(op, p, v) \
	__asm__ volatile (op " %1, 0(%0)" :: "r"(p), "r"((uint64_t)(v)) : "memory")

static uint64_t mem[4] __attribute__((aligned(16)));

/* a tiny function in RAM that we patch: addi a0, zero, N ; ret */
static uint32_t smc_code[2] __attribute__((aligned(8)));

static void arith(void)
{
	check("add", RR("add", 0x7fffffffffffffffUL, 1), 0x8000000000000000UL);
	check("add wrap", RR("add", 0xffffffffffffffffUL, 2), 1);
	check("sub", RR("sub", 5, 7), 0xfffffffffffffffeUL);
	check("addi neg", RI("addi", 10, -11), 0xffffffffffffffffUL);
	check("addi max", RI("addi", 0, 2047), 2047);
	check("addi min", RI("addi", 0, -2048), 0xfffffffffffff800UL);
	check("addw sext", RR("addw", 0x7fffffff, 1), 0xffffffff80000000UL);
	check("addw upper ignored", RR("addw", 0x1234567800000001UL, 0xff00000000000002UL), 3);
	check("subw", RR("subw", 0, 1), 0xffffffffffffffffUL);
	check("subw wrap", RR("subw", 0x80000000UL, 1), 0x7fffffff);
	check("addiw", RI("addiw", 0x7ffffffeUL, 1), 0x7fffffff);
	check("addiw sext", RI("addiw", 0xffffffffUL, 0), 0xffffffffffffffffUL);
	check("sext.w", RI("addiw", 0x123456789abcdef0UL, 0), 0xffffffff9abcdef0UL);
}

static void shifts(void)
{
	check("sll", RR("sll", 1, 63), 0x8000000000000000UL);
	check("sll mask 6 bits", RR("sll", 1, 65), 2);
	check("srl", RR("srl", 0x8000000000000000UL, 63), 1);
	check("sra", RR("sra", 0x8000000000000000UL, 63), 0xffffffffffffffffUL);
	check("sra mask", RR("sra", 0x8000000000000000UL, 0x7c4), 0xf800000000000000UL);
	check("slli", RI("slli", 0x3, 62), 0xc000000000000000UL);
	check("srli", RI("srli", 0xf000000000000000UL, 60), 0xf);
	check("srai", RI("srai", 0xf000000000000000UL, 60), 0xffffffffffffffffUL);
	check("sllw", RR("sllw", 1, 31), 0xffffffff80000000UL);
	check("sllw mask 5 bits", RR("sllw", 1, 33), 2);
	check("srlw", RR("srlw", 0xffffffff80000000UL, 31), 1);
	check("srlw sext", RR("srlw", 0x80000000UL, 0), 0xffffffff80000000UL);
	check("sraw", RR("sraw", 0x80000000UL, 4), 0xfffffffff8000000UL);
	check("slliw", RI("slliw", 0x12345678UL, 4), 0x23456780);
	check("srliw", RI("srliw", 0xabcdef0123456789UL, 8), 0x234567);
	check("sraiw", RI("sraiw", 0x80000000UL, 31), 0xffffffffffffffffUL);
	check("sraiw upper ignored", RI("sraiw", 0xffffffff7fffffffUL, 30), 1);
}

static void compares_logic(void)
{
	check("slt neg<pos", RR("slt", -1L, 1), 1);
	check("slt pos<neg", RR("slt", 1, -1L), 0);
	check("sltu", RR("sltu", 1, -1L), 1);
	check("sltu eq", RR("sltu", 5, 5), 0);
	check("slti", RI("slti", -5L, -4), 1);
	check("sltiu -1 imm", RI("sltiu", 0xfffffffffffffffeUL, -1), 1);
	check("sltiu seqz", RI("sltiu", 0, 1), 1);
	check("and", RR("and", 0xff00ff00ff00ff00UL, 0x0ff00ff00ff00ff0UL), 0x0f000f000f000f00UL);
	check("or", RR("or", 0xff00000000000000UL, 0xff), 0xff000000000000ffUL);
	check("xor", RR("xor", 0xaaaaaaaaaaaaaaaaUL, 0xffffffff00000000UL), 0x55555555aaaaaaaaUL);
	check("andi sext imm", RI("andi", 0x123456789abcdef0UL, -16), 0x123456789abcdef0UL);
	check("andi", RI("andi", 0x123456789abcdef0UL, 0x7ff), 0x6f0);
	check("ori", RI("ori", 0, -1), 0xffffffffffffffffUL);
	check("xori not", RI("xori", 0x0f0f0f0f0f0f0f0fUL, -1), 0xf0f0f0f0f0f0f0f0UL);
}

static void upper(void)
{
	uint64_t r, a, b;
	__asm__ volatile ("lui %0, 0x80000" : "=r"(r));
	check("lui sext", r, 0xffffffff80000000UL);
	__asm__ volatile ("lui %0, 0x7ffff" : "=r"(r));
	check("lui", r, 0x7ffff000);
	__asm__ volatile ("1: auipc %0, 0\n\tlla %1, 1b" : "=r"(a), "=r"(b));
	check("auipc 0", a, b);
	__asm__ volatile ("1: auipc %0, 1\n\tlla %1, 1b" : "=r"(a), "=r"(b));
	check("auipc 1", a - b, 0x1000);
	__asm__ volatile ("1: auipc %0, 0xfffff\n\tlla %1, 1b" : "=r"(a), "=r"(b));
	check("auipc -1", b - a, 0x1000);
}

static void branches(void)
{
	check("beq taken", BR("beq", 3, 3), 1);
	check("beq not", BR("beq", 3, 4), 0);
	check("bne taken", BR("bne", 3, 4), 1);
	check("blt signed", BR("blt", -1L, 0), 1);
	check("blt eq", BR("blt", 7, 7), 0);
	check("bge eq", BR("bge", 7, 7), 1);
	check("bge signed", BR("bge", 0, -1L), 1);
	check("bltu", BR("bltu", 0, -1L), 1);
	check("bltu not", BR("bltu", -1L, 0), 0);
	check("bgeu", BR("bgeu", -1L, 0), 1);
	check("bgeu eq", BR("bgeu", 0, 0), 1);
	check("bge min", BR("bge", 0x8000000000000000UL, 0x7fffffffffffffffUL), 0);
	/* backward branch loop */
	uint64_t n = 0, i = 10;
	__asm__ volatile ("1: addi %0, %0, 3\n\taddi %1, %1, -1\n\tbnez %1, 1b"
			  : "+r"(n), "+r"(i));
	check("backward branch loop", n, 30);
}

static void jumps(void)
{
	uint64_t link, expect, r;
	__asm__ volatile (".option push\n\t.option norvc\n\t"
			  "jal %0, 1f\n2:\tnop\n1:\tlla %1, 2b\n\t.option pop"
			  : "=r"(link), "=r"(expect));
	check("jal link", link, expect);
	__asm__ volatile (".option push\n\t.option norvc\n\t"
			  "lla t0, 1f\n\taddi t0, t0, 1\n\t"	/* odd target: bit 0 ignored */
			  "jalr %0, 0(t0)\n2:\tli %2, 0\n\tj 3f\n"
			  "1:\tli %2, 1\n3:\tlla %1, 2b\n\t.option pop"
			  : "=&r"(link), "=&r"(expect), "=&r"(r) :: "t0");
	check("jalr clears bit 0", r, 1);
	check("jalr link", link, expect);
	__asm__ volatile (".option push\n\t.option norvc\n\t"
			  "lla t0, 1f - 8\n\tjalr %0, 8(t0)\n2:\tnop\n1:\tlla %1, 2b\n\t.option pop"
			  : "=&r"(link), "=&r"(expect) :: "t0");
	check("jalr offset", link, expect);
	__asm__ volatile (".option push\n\t.option norvc\n\t"
			  "lla %0, 1f\n\tjalr %0, 0(%0)\n2:\tnop\n1:\tlla %1, 2b\n\t.option pop"
			  : "=&r"(link), "=&r"(expect));
	check("jalr rd==rs1", link, expect);
}

static void loads_stores(void)
{
	uint8_t *b = (uint8_t *)mem;
	mem[0] = 0x8899aabbccddeeffUL;
	mem[1] = 0x0123456789abcdefUL;
	check("lb sext", LOAD("lb", b), 0xffffffffffffffffUL);
	check("lbu", LOAD("lbu", b), 0xff);
	check("lb offset", LOAD("lb", b + 9), 0xffffffffffffffcdUL);
	check("lh sext", LOAD("lh", b + 6), 0xffffffffffff8899UL);
	check("lhu", LOAD("lhu", b + 6), 0x8899);
	check("lw sext", LOAD("lw", b + 4), 0xffffffff8899aabbUL);
	check("lwu", LOAD("lwu", b + 4), 0x8899aabbUL);
	check("lw pos", LOAD("lw", b + 12), 0x01234567);
	check("ld", LOAD("ld", b + 8), 0x0123456789abcdefUL);
	uint64_t r;
	__asm__ volatile ("ld %0, -8(%1)" : "=r"(r) : "r"(b + 16) : "memory");
	check("ld neg offset", r, 0x0123456789abcdefUL);

	mem[2] = 0;
	STORE("sb", b + 16, 0x1234);
	check("sb", mem[2], 0x34);
	STORE("sh", b + 18, 0xabcdef);
	check("sh", mem[2], 0xcdef0034);
	STORE("sw", b + 20, 0xffffffff87654321UL);
	check("sw", mem[2], 0x87654321cdef0034UL);
	STORE("sd", b + 16, 0xfedcba9876543210UL);
	check("sd", mem[2], 0xfedcba9876543210UL);
	check("sd no spill", mem[3], 0);
}

static void zero_reg(void)
{
	uint64_t r;
	__asm__ volatile ("li t0, 123\n\tadd zero, t0, t0\n\tmv %0, zero" : "=r"(r) :: "t0");
	check("x0 write ignored", r, 0);
	__asm__ volatile ("lui zero, 1\n\taddi %0, zero, 5" : "=r"(r));
	check("x0 reads zero", r, 5);
}


static void fence_i(void)
{
	/* addi a0, zero, N = (N << 20) | (10 << 7) | 0x13 ; ret = 0x00008067 */
	uint64_t r;
	smc_code[0] = (1u << 20) | (10u << 7) | 0x13;
	smc_code[1] = 0x00008067;
	__asm__ volatile ("fence.i" ::: "memory");
	__asm__ volatile ("jalr %1\n\tmv %0, a0" : "=r"(r) : "r"(smc_code) : "ra", "a0", "memory");
	check("fence.i run", r, 1);
	smc_code[0] = (2u << 20) | (10u << 7) | 0x13;
	__asm__ volatile ("fence.i" ::: "memory");
	__asm__ volatile ("jalr %1\n\tmv %0, a0" : "=r"(r) : "r"(smc_code) : "ra", "a0", "memory");
	check("fence.i self-modifying code", r, 2);
}

int main(unsigned long hartid, void *dtb)
{
	printf("# rv64i\n");
	arith();
	shifts();
	compares_logic();
	upper();
	branches();
	jumps();
	loads_stores();
	zero_reg();
	fence_i();
	return check_summary();
}
