/*
 * traps - synchronous exceptions: ecall from M/S/U (mcause, mepc, MPP),
 * ebreak and c.ebreak, illegal instructions (mtval = instruction bits),
 * misaligned loads/stores (either done by hardware or trapped and
 * emulated here: the result must be the same), misaligned AMO (must trap),
 * access faults (load/store/fetch at an unmapped address), and delegation
 * of exceptions to S-mode through medeleg (scause/sepc/stval/SPP).
 */
#include "guest.h"

#define UNMAPPED 0x200000UL	/* hole in the QEMU virt memory map */

struct rec {
	uint64_t count, cause, epc, tval, pp;	/* pp = MPP or SPP of the trap */
	uint64_t misaligned;			/* misaligned accesses emulated */
};
static volatile struct rec mrec, srec;

static void reset(void)
{
	memset((void *)&mrec, 0, sizeof(mrec));
	memset((void *)&srec, 0, sizeof(srec));
}

static uint32_t insn_at(uint64_t pc)
{
	const volatile uint16_t *p = (const volatile uint16_t *)pc;
	return p[0] | ((uint32_t)p[1] << 16);
}

/* Emulate a 32-bit misaligned load/store with byte accesses. Returns 0 if
 * the instruction is not a load/store we know. */
static int emulate_misaligned(struct trap_frame *f)
{
	uint32_t insn = insn_at(f->epc);
	unsigned opc = insn & 0x7f, funct3 = (insn >> 12) & 7;
	unsigned rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31;
	unsigned size = 1u << (funct3 & 3);
	volatile uint8_t *p;
	if (opc == 0x03) {		/* load */
		int64_t imm = (int32_t)insn >> 20;
		p = (volatile uint8_t *)(f->x[rs1] + imm);
		uint64_t v = 0;
		for (unsigned i = 0; i < size; i++)
			v |= (uint64_t)p[i] << (8 * i);
		if (!(funct3 & 4) && size < 8) {	/* sign-extend */
			unsigned sh = 64 - 8 * size;
			v = (uint64_t)((int64_t)(v << sh) >> sh);
		}
		if (rd)
			f->x[rd] = v;
	} else if (opc == 0x23) {	/* store */
		int64_t imm = ((int32_t)(insn & 0xfe000000) >> 20) | ((insn >> 7) & 31);
		p = (volatile uint8_t *)(f->x[rs1] + imm);
		for (unsigned i = 0; i < size; i++)
			p[i] = (uint8_t)(f->x[rs2] >> (8 * i));
	} else {
		return 0;
	}
	f->epc += 4;
	return 1;
}

static volatile int clear_medeleg;	/* M handler: medeleg = 0 */

static void m_handler(struct trap_frame *f)
{
	mrec.count++;
	mrec.cause = f->cause;
	mrec.epc = f->epc;
	mrec.tval = f->tval;
	mrec.pp = (f->status & MSTATUS_MPP) >> 11;
	if ((f->cause == EXC_LOAD_MISALIGNED || f->cause == EXC_STORE_MISALIGNED) &&
	    emulate_misaligned(f)) {
		mrec.misaligned++;
		return;
	}
	if (clear_medeleg)
		csr_write(medeleg, 0);
	if (f->cause == EXC_INST_ACCESS) {	/* we were called: return to caller */
		f->epc = f->x[1];
		return;
	}
	trap_skip(f);
}

static void s_handler(struct trap_frame *f)
{
	srec.count++;
	srec.cause = f->cause;
	srec.epc = f->epc;
	srec.tval = f->tval;
	srec.pp = (f->status & MSTATUS_SPP) >> 8;
	trap_skip(f);
}

/* --- code run in various modes; each returns the address of the trapping insn */
static uint64_t do_ecall(uint64_t arg)
{
	uint64_t pc;
	__asm__ volatile ("li a7, 0\n\tlla %0, 1f\n1:\tecall" : "=&r"(pc) :: "a7", "memory");
	return pc;
}

/* ecall (delegated to S), then an illegal instruction that goes to M */
static uint64_t do_ecall_then_m(uint64_t arg)
{
	uint64_t pc = do_ecall(arg);
	__asm__ volatile ("csrr t0, mstatus" ::: "t0", "memory");
	return pc;
}

static uint64_t do_ebreak(uint64_t arg)
{
	uint64_t pc;
	__asm__ volatile (".option push\n\t.option norvc\n\t"
			  "lla %0, 1f\n1:\tebreak\n\t.option pop" : "=&r"(pc) :: "memory");
	return pc;
}

static uint64_t do_c_ebreak(uint64_t arg)
{
	uint64_t pc;
	__asm__ volatile ("lla %0, 1f\n1:\tc.ebreak" : "=&r"(pc) :: "memory");
	return pc;
}

static uint64_t do_unimp(uint64_t arg)	/* csrrw x0, cycle, x0 = 0xc0001073 */
{
	uint64_t pc;
	__asm__ volatile (".option push\n\t.option norvc\n\t"
			  "lla %0, 1f\n1:\tunimp\n\t.option pop" : "=&r"(pc) :: "memory");
	return pc;
}

static uint64_t do_zero_insn(uint64_t arg)	/* 16-bit 0x0000: illegal */
{
	uint64_t pc;
	__asm__ volatile ("lla %0, 1f\n1:\t.half 0" : "=&r"(pc) :: "memory");
	return pc;
}

static uint64_t do_mret(uint64_t arg)
{
	uint64_t pc;
	__asm__ volatile ("lla %0, 1f\n1:\tmret" : "=&r"(pc) :: "memory");
	return pc;
}

static uint64_t do_csr_mstatus(uint64_t arg)	/* csrr t0, mstatus */
{
	uint64_t pc;
	__asm__ volatile ("lla %0, 1f\n1:\tcsrr t0, mstatus" : "=&r"(pc) :: "t0", "memory");
	return pc;
}

static uint64_t wait_x;

static void exceptions_m(void)
{
	uint64_t pc;

	reset();
	pc = do_ecall(0);
	check("ecall M mcause", mrec.cause, EXC_ECALL_M);
	check("ecall M mepc", mrec.epc, pc);
	check("ecall M MPP=M", mrec.pp, MODE_M);

	reset();
	pc = do_ebreak(0);
	check("ebreak mcause", mrec.cause, EXC_BREAKPOINT);
	check("ebreak mepc", mrec.epc, pc);
	check("ebreak mtval 0 or pc", mrec.tval == 0 || mrec.tval == pc, 1);

	reset();
	pc = do_c_ebreak(0);
	check("c.ebreak mcause", mrec.cause, EXC_BREAKPOINT);
	check("c.ebreak mepc", mrec.epc, pc);

	reset();
	pc = do_unimp(0);
	check("unimp mcause", mrec.cause, EXC_ILLEGAL_INST);
	check("unimp mepc", mrec.epc, pc);
	check("unimp mtval", mrec.tval, 0xc0001073);

	reset();
	pc = do_zero_insn(0);
	check("insn 0x0000 mcause", mrec.cause, EXC_ILLEGAL_INST);
	check("insn 0x0000 mtval", mrec.tval, 0);

	reset();
	__asm__ volatile (".word 0x02005053");	/* fadd.d f0,f0,f0 with rm=5 */
	check("reserved rm mcause", mrec.cause, EXC_ILLEGAL_INST);
	check("reserved rm mtval", mrec.tval, 0x02005053);

	reset();
	csr_write(frm, 5);
	__asm__ volatile ("fadd.d f0, f0, f0, dyn");	/* frm = 5: reserved */
	csr_write(frm, 0);
	check("dyn rm with frm=5 traps", mrec.cause == EXC_ILLEGAL_INST && mrec.count == 1, 1);

	(void)wait_x;
}

static void exceptions_lower(void)
{
	uint64_t pc;

	reset();
	pc = run_in_mode(MODE_S, do_ecall, 0);
	check("ecall S mcause", mrec.cause, EXC_ECALL_S);
	check("ecall S mepc", mrec.epc, pc);
	check("ecall S MPP=S", mrec.pp, MODE_S);

	reset();
	pc = run_in_mode(MODE_U, do_ecall, 0);
	check("ecall U mcause", mrec.cause, EXC_ECALL_U);
	check("ecall U mepc", mrec.epc, pc);
	check("ecall U MPP=U", mrec.pp, MODE_U);

	reset();
	pc = run_in_mode(MODE_U, do_ebreak, 0);
	check("ebreak U mcause", mrec.cause, EXC_BREAKPOINT);
	check("ebreak U mepc", mrec.epc, pc);

	reset();
	pc = run_in_mode(MODE_U, do_mret, 0);
	check("mret in U illegal", mrec.cause, EXC_ILLEGAL_INST);
	check("mret in U mtval", mrec.tval, 0x30200073);
	check("mret in U mepc", mrec.epc, pc);

	reset();
	pc = run_in_mode(MODE_S, do_mret, 0);
	check("mret in S illegal", mrec.cause, EXC_ILLEGAL_INST);

	reset();
	pc = run_in_mode(MODE_S, do_csr_mstatus, 0);
	check("mstatus in S illegal", mrec.cause, EXC_ILLEGAL_INST);
	check("mstatus in S mtval", mrec.tval, 0x300022f3);
	check("mstatus in S MPP=S", mrec.pp, MODE_S);
}

static uint64_t buf[4] __attribute__((aligned(16)));

#define LD(op, addr) ({ uint64_t __r; __asm__ volatile (".option push\n\t.option norvc\n\t" \
	op " %0, 0(%1)\n\t.option pop" : "=r"(__r) : "r"(addr) : "memory"); __r; })
#define ST(op, addr, v) __asm__ volatile (".option push\n\t.option norvc\n\t" \
	op " %1, 0(%0)\n\t.option pop" :: "r"(addr), "r"((uint64_t)(v)) : "memory")

static void misaligned(void)
{
	uint8_t *b = (uint8_t *)buf;
	buf[0] = 0x8877665544332211UL;
	buf[1] = 0x00ffeeddccbbaa99UL;
	reset();
	check("misaligned ld", LD("ld", b + 1), 0x9988776655443322UL);
	check("misaligned ld +7", LD("ld", b + 7), 0xffeeddccbbaa9988UL);
	check("misaligned lw sext", LD("lw", b + 5), 0xffffffff99887766UL);
	check("misaligned lwu", LD("lwu", b + 5), 0x99887766UL);
	check("misaligned lh sext", LD("lh", b + 7), 0xffffffffffff9988UL);
	check("misaligned lhu", LD("lhu", b + 3), 0x5544);
	ST("sd", b + 3, 0x0102030405060708UL);
	check("misaligned sd lo", buf[0], 0x0405060708332211UL);
	check("misaligned sd hi", buf[1], 0x00ffeeddcc010203UL);
	ST("sw", b + 14, 0xa1b2c3d4);
	check("misaligned sw", buf[1], 0xc3d4eeddcc010203UL);
	check("misaligned sw next", buf[2] & 0xffff, 0xa1b2);
	ST("sh", b + 1, 0xbeef);
	check("misaligned sh", buf[0], 0x0405060708beef11UL);
	check("misaligned: no other traps", mrec.count, mrec.misaligned);

	reset();
	__asm__ volatile ("amoadd.w zero, zero, (%0)" :: "r"(b + 2) : "memory");
	check("misaligned amo traps", mrec.count, 1);
	check("misaligned amo cause 4/6/7",
	      mrec.cause == EXC_LOAD_MISALIGNED || mrec.cause == EXC_STORE_MISALIGNED ||
	      mrec.cause == EXC_STORE_ACCESS, 1);
	check("misaligned amo mtval", mrec.tval, (uint64_t)(b + 2));
	reset();
	__asm__ volatile ("lr.d t0, (%0)" :: "r"(b + 4) : "t0", "memory");
	check("misaligned lr traps", mrec.count, 1);
	check("misaligned lr mtval", mrec.tval, (uint64_t)(b + 4));
}

static void access_faults(void)
{
	reset();
	(void)*(volatile uint64_t *)UNMAPPED;
	check("load access fault mcause", mrec.cause, EXC_LOAD_ACCESS);
	check("load access fault mtval", mrec.tval, UNMAPPED);
	reset();
	*(volatile uint32_t *)(UNMAPPED + 0x10) = 1;
	check("store access fault mcause", mrec.cause, EXC_STORE_ACCESS);
	check("store access fault mtval", mrec.tval, UNMAPPED + 0x10);
	reset();
	((void (*)(void))UNMAPPED)();
	check("fetch access fault mcause", mrec.cause, EXC_INST_ACCESS);
	check("fetch access fault mepc", mrec.epc, UNMAPPED);
	check("fetch access fault mtval", mrec.tval, UNMAPPED);
}

static void delegation(void)
{
	uint64_t pc;

	csr_write(medeleg, (1 << EXC_ECALL_U) | (1 << EXC_BREAKPOINT) | (1 << EXC_ILLEGAL_INST) |
			   (1 << EXC_ECALL_S));
	check("medeleg readback", csr_read(medeleg) & 0x30c, 0x30c);
	csr_clear(medeleg, 1 << EXC_ECALL_S);

	reset();
	pc = run_in_mode(MODE_U, do_ecall, 0);
	check("deleg ecall U -> S", srec.count * 16 + mrec.count, 16);
	check("deleg ecall U scause", srec.cause, EXC_ECALL_U);
	check("deleg ecall U sepc", srec.epc, pc);
	check("deleg ecall U SPP=U", srec.pp, 0);

	/* S-mode ecall delegated to S: afterwards do_ecall_then_m leaves through
	 * an M-mode trap whose handler clears medeleg, so that run_in_mode's own
	 * return ecall reaches M-mode again. */
	csr_set(medeleg, 1 << EXC_ECALL_S);
	csr_clear(medeleg, 1 << EXC_ILLEGAL_INST);
	reset();
	clear_medeleg = 1;
	pc = run_in_mode(MODE_S, do_ecall_then_m, 0);
	clear_medeleg = 0;
	check("deleg ecall S -> S", srec.count * 16 + mrec.count, 17);
	check("deleg ecall S scause", srec.cause, EXC_ECALL_S);
	check("deleg ecall S sepc", srec.epc, pc);
	check("deleg ecall S SPP=S", srec.pp, 1);
	csr_write(medeleg, (1 << EXC_ECALL_U) | (1 << EXC_BREAKPOINT) | (1 << EXC_ILLEGAL_INST));

	reset();
	pc = run_in_mode(MODE_U, do_unimp, 0);
	check("deleg illegal U scause", srec.cause, EXC_ILLEGAL_INST);
	check("deleg illegal U sepc", srec.epc, pc);
	check("deleg illegal U stval", srec.tval, 0xc0001073);

	reset();
	pc = run_in_mode(MODE_S, do_c_ebreak, 0);
	check("deleg c.ebreak S scause", srec.cause, EXC_BREAKPOINT);
	check("deleg c.ebreak S sepc", srec.epc, pc);

	/* not delegated: still goes to M */
	reset();
	run_in_mode(MODE_U, do_csr_mstatus, 0);	/* illegal is delegated ... */
	check("deleg illegal csr U -> S", srec.count * 16 + mrec.count, 16);
	csr_clear(medeleg, 1 << EXC_ILLEGAL_INST);
	reset();
	run_in_mode(MODE_U, do_csr_mstatus, 0);	/* ... and now it is not */
	check("undelegated illegal U -> M", srec.count * 16 + mrec.count, 1);
	check("undelegated illegal U MPP=U", mrec.pp, MODE_U);

	/* traps taken in M-mode are never delegated */
	csr_set(medeleg, (1 << EXC_ILLEGAL_INST) | (1 << EXC_ECALL_M));
	reset();
	pc = do_ecall(0);
	check("M ecall with medeleg stays in M", srec.count * 16 + mrec.count, 1);
	check("M ecall with medeleg mcause", mrec.cause, EXC_ECALL_M);
	reset();
	do_unimp(0);
	check("M illegal with medeleg stays in M", srec.count * 16 + mrec.count, 1);

	/* stvec in vectored mode: exceptions still go to BASE */
	csr_write(stvec, (uint64_t)s_trap_entry | 1);
	reset();
	pc = run_in_mode(MODE_U, do_ecall, 0);
	check("vectored stvec: exception at BASE", srec.count * 16 + mrec.count, 16);
	check("vectored stvec: scause", srec.cause, EXC_ECALL_U);
	csr_write(stvec, (uint64_t)s_trap_entry);

	csr_write(medeleg, 0);
	(void)pc;
}

int main(unsigned long hartid, void *dtb)
{
	printf("# traps\n");
	m_trap_handler = m_handler;
	s_trap_handler = s_handler;
	exceptions_m();
	exceptions_lower();
	misaligned();
	access_faults();
	delegation();
	return check_summary();
}
