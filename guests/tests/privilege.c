/*
 * privilege - mret to S and U (and M: MPP/MPIE/MIE update), sret to U
 * (SPP/SPIE/SIE update), xRET and WFI as illegal instructions where they
 * must be (U-mode, mstatus.TSR/TW), mstatus.TVM, counter enables
 * (mcounteren/scounteren) and mstatus.MPRV (M-mode loads/stores through
 * an Sv39 page table with the privilege in MPP, SUM).
 */
#include "guest.h"

#define PTE_V (1UL << 0)
#define PTE_R (1UL << 1)
#define PTE_W (1UL << 2)
#define PTE_X (1UL << 3)
#define PTE_U (1UL << 4)
#define PTE_A (1UL << 6)
#define PTE_D (1UL << 7)
#define SATP_SV39 (8UL << 60)

struct rec {
	uint64_t count, cause, tval, status;
};
static volatile struct rec mrec;

static void reset(void)
{
	memset((void *)&mrec, 0, sizeof(mrec));
}

static void m_handler(struct trap_frame *f)
{
	mrec.count++;
	mrec.cause = f->cause;
	mrec.tval = f->tval;
	mrec.status = f->status;
	if (f->cause & CAUSE_INTR) {
		printf("unexpected interrupt 0x%lx\n", f->cause);
		exit(97);
	}
	trap_skip(f);
}

static void s_handler(struct trap_frame *f)
{
	printf("unexpected S trap 0x%lx\n", f->cause);
	exit(96);
}

static uint64_t mpp_of(uint64_t status) { return (status & MSTATUS_MPP) >> 11; }

/* --- functions run in lower modes ---------------------------------------- */
static uint64_t read_sstatus(uint64_t arg)
{
	uint64_t v;
	__asm__ volatile ("csrr %0, sstatus" : "=r"(v));
	return v;
}

static uint64_t read_mstatus(uint64_t arg)
{
	uint64_t v = 0;
	__asm__ volatile ("csrr %0, mstatus" : "+r"(v));
	return v;
}

static uint64_t do_sret(uint64_t arg)
{
	__asm__ volatile ("sret" ::: "memory");
	return 0;
}

static uint64_t do_mret(uint64_t arg)
{
	__asm__ volatile ("mret" ::: "memory");
	return 0;
}

static uint64_t do_wfi(uint64_t arg)
{
	__asm__ volatile ("wfi" ::: "memory");
	return 0;
}

static uint64_t do_satp(uint64_t arg)
{
	uint64_t v = 0;
	__asm__ volatile ("csrr %0, satp" : "+r"(v));
	return v;
}

static uint64_t do_sfence(uint64_t arg)
{
	__asm__ volatile ("sfence.vma" ::: "memory");
	return 0;
}

static uint64_t do_rdcycle(uint64_t arg)
{
	uint64_t v = 0;
	__asm__ volatile ("rdcycle %0" : "+r"(v));
	return v;
}

static uint64_t do_rdtime(uint64_t arg)
{
	uint64_t v = 0;
	__asm__ volatile ("rdtime %0" : "+r"(v));
	return v;
}

static uint64_t do_rdinstret(uint64_t arg)
{
	uint64_t v = 0;
	__asm__ volatile ("rdinstret %0" : "+r"(v));
	return v;
}

/* S-mode: sret into U-mode (at the label), then an ecall from U whose
 * mstatus the M handler records; the function then returns (in U-mode). */
static uint64_t s_sret_to_u(uint64_t arg)
{
	csr_clear(sstatus, MSTATUS_SPP | MSTATUS_SIE);
	csr_set(sstatus, MSTATUS_SPIE);
	__asm__ volatile ("lla t0, 1f\n\tcsrw sepc, t0\n\tsret\n1:" ::: "t0", "memory");
	__asm__ volatile ("li a7, 0\n\tecall" ::: "a7", "memory");	/* from U */
	return 1;
}

/* S-mode: wfi with an S-level interrupt pending and enabled in sie but
 * sstatus.SIE = 0, so wfi returns at once without a trap */
static uint64_t s_wfi_pending(uint64_t arg)
{
	csr_set(sip, 1 << IRQ_S_SOFT);
	__asm__ volatile ("wfi" ::: "memory");
	csr_clear(sip, 1 << IRQ_S_SOFT);
	return 7;
}

static void modes(void)
{
	uint64_t v;

	reset();
	run_in_mode(MODE_S, read_sstatus, 0);
	check("S reads sstatus", mrec.count, 0);
	reset();
	run_in_mode(MODE_S, read_mstatus, 0);
	check("S cannot read mstatus", mrec.cause, EXC_ILLEGAL_INST);
	check("trap from S: MPP=S", mpp_of(mrec.status), MODE_S);
	reset();
	run_in_mode(MODE_U, read_sstatus, 0);
	check("U cannot read sstatus", mrec.cause, EXC_ILLEGAL_INST);
	check("trap from U: MPP=U", mpp_of(mrec.status), MODE_U);

	/* mret to M: MIE = MPIE, MPIE = 1, MPP = U (least privileged) */
	reset();
	csr_set(mstatus, MSTATUS_MIE);	/* run_in_mode copies MIE to MPIE */
	v = run_in_mode(MODE_M, read_mstatus, 0);
	csr_clear(mstatus, MSTATUS_MIE);
	check("M reads mstatus", mrec.count, 0);
	check("mret: MIE = old MPIE", v & MSTATUS_MIE, MSTATUS_MIE);
	check("mret: MPIE = 1", v & MSTATUS_MPIE, MSTATUS_MPIE);
	check("mret: MPP = U", mpp_of(v), MODE_U);

	/* (Priv spec 1.12: mret to S/U also clears MPRV. QEMU 7.2 does not, so
	 * that is not checked here.) */

	/* sret from S to U */
	reset();
	v = run_in_mode(MODE_S, s_sret_to_u, 0);
	check("sret to U: ecall cause", mrec.cause, EXC_ECALL_U);
	check("sret to U: MPP=U", mpp_of(mrec.status), MODE_U);
	check("sret: SIE = old SPIE", mrec.status & MSTATUS_SIE, MSTATUS_SIE);
	check("sret: SPIE = 1", mrec.status & MSTATUS_SPIE, MSTATUS_SPIE);
	check("sret: SPP = U", mrec.status & MSTATUS_SPP, 0);
	check("sret to U: function result", v, 1);
}

static void illegal_returns(void)
{
	reset();
	run_in_mode(MODE_U, do_sret, 0);
	check("sret in U illegal", mrec.cause, EXC_ILLEGAL_INST);
	check("sret in U mtval", mrec.tval, 0x10200073);
	reset();
	run_in_mode(MODE_S, do_mret, 0);
	check("mret in S illegal", mrec.cause, EXC_ILLEGAL_INST);
	reset();
	csr_set(mstatus, MSTATUS_TSR);
	run_in_mode(MODE_S, do_sret, 0);
	csr_clear(mstatus, MSTATUS_TSR);
	check("sret in S with TSR illegal", mrec.cause, EXC_ILLEGAL_INST);
	check("sret in S with TSR MPP=S", mpp_of(mrec.status), MODE_S);

	reset();
	csr_set(mstatus, MSTATUS_TW);
	run_in_mode(MODE_S, do_wfi, 0);
	csr_clear(mstatus, MSTATUS_TW);
	check("wfi in S with TW illegal", mrec.cause, EXC_ILLEGAL_INST);
	check("wfi in S with TW mtval", mrec.tval, 0x10500073);
	reset();
	run_in_mode(MODE_U, do_wfi, 0);
	check("wfi in U illegal", mrec.cause, EXC_ILLEGAL_INST);
	reset();
	csr_write(mideleg, 1 << IRQ_S_SOFT);
	csr_write(mie, 1 << IRQ_S_SOFT);
	check("wfi in S with TW=0", run_in_mode(MODE_S, s_wfi_pending, 0), 7);
	check("wfi in S with TW=0 no trap", mrec.count, 0);
	csr_write(mie, 0);
	csr_write(mideleg, 0);

	reset();
	csr_set(mstatus, MSTATUS_TVM);
	run_in_mode(MODE_S, do_satp, 0);
	check("satp in S with TVM illegal", mrec.cause, EXC_ILLEGAL_INST);
	reset();
	run_in_mode(MODE_S, do_sfence, 0);
	check("sfence.vma in S with TVM illegal", mrec.cause, EXC_ILLEGAL_INST);
	csr_clear(mstatus, MSTATUS_TVM);
	reset();
	run_in_mode(MODE_S, do_satp, 0);
	run_in_mode(MODE_S, do_sfence, 0);
	check("satp/sfence.vma in S with TVM=0", mrec.count, 0);
	reset();
	run_in_mode(MODE_U, do_sfence, 0);
	check("sfence.vma in U illegal", mrec.cause, EXC_ILLEGAL_INST);
}

static void counter_enables(void)
{
	csr_write(mcounteren, 0);
	csr_write(scounteren, 0);
	reset();
	run_in_mode(MODE_S, do_rdcycle, 0);
	check("S rdcycle, mcounteren=0 illegal", mrec.cause, EXC_ILLEGAL_INST);
	reset();
	run_in_mode(MODE_S, do_rdtime, 0);
	check("S rdtime, mcounteren=0 illegal", mrec.cause, EXC_ILLEGAL_INST);
	csr_write(mcounteren, 7);	/* CY, TM, IR */
	reset();
	run_in_mode(MODE_S, do_rdcycle, 0);
	run_in_mode(MODE_S, do_rdtime, 0);
	run_in_mode(MODE_S, do_rdinstret, 0);
	check("S counters with mcounteren=7", mrec.count, 0);
	reset();
	run_in_mode(MODE_U, do_rdinstret, 0);
	check("U rdinstret, scounteren=0 illegal", mrec.cause, EXC_ILLEGAL_INST);
	csr_write(scounteren, 4);	/* IR only */
	reset();
	run_in_mode(MODE_U, do_rdinstret, 0);
	check("U rdinstret, scounteren.IR", mrec.count, 0);
	reset();
	run_in_mode(MODE_U, do_rdcycle, 0);
	check("U rdcycle, scounteren.CY=0 illegal", mrec.cause, EXC_ILLEGAL_INST);
	csr_write(mcounteren, 0);
	reset();
	run_in_mode(MODE_U, do_rdinstret, 0);
	check("U rdinstret, mcounteren.IR=0 illegal", mrec.cause, EXC_ILLEGAL_INST);
	csr_write(scounteren, 0);
}

/* --- MPRV ---------------------------------------------------------------- */
static uint64_t pt[512] __attribute__((aligned(4096)));
static volatile uint64_t target = 0x1234567890abcdefUL;

#define VA_S  0x40000000UL	/* gigapage -> RAM, supervisor RW */
#define VA_U  0xc0000000UL	/* gigapage -> RAM, user RW */
#define VA_RO 0x100000000UL	/* gigapage -> RAM, supervisor read-only */

static uint64_t mprv_load(uint64_t va, uint64_t mpp)
{
	uint64_t v = 0;
	csr_clear(mstatus, MSTATUS_MPP);
	csr_set(mstatus, (mpp << 11) | MSTATUS_MPRV);
	v = *(volatile uint64_t *)va;
	csr_clear(mstatus, MSTATUS_MPRV);
	return v;
}

static void mprv_store(uint64_t va, uint64_t mpp, uint64_t v)
{
	csr_clear(mstatus, MSTATUS_MPP);
	csr_set(mstatus, (mpp << 11) | MSTATUS_MPRV);
	*(volatile uint64_t *)va = v;
	csr_clear(mstatus, MSTATUS_MPRV);
}

static void mprv(void)
{
	uint64_t off = (uint64_t)&target - RAM_BASE;
	uint64_t ram_ppn = RAM_BASE >> 12;

	pt[RAM_BASE >> 30] = (ram_ppn << 10) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D;
	pt[VA_S >> 30] = (ram_ppn << 10) | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D;
	pt[VA_U >> 30] = (ram_ppn << 10) | PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D;
	pt[VA_RO >> 30] = (ram_ppn << 10) | PTE_V | PTE_R | PTE_A | PTE_D;
	csr_write(satp, SATP_SV39 | ((uint64_t)pt >> 12));
	__asm__ volatile ("sfence.vma" ::: "memory");
	check("satp Sv39 readback", csr_read(satp), SATP_SV39 | ((uint64_t)pt >> 12));

	reset();
	check("M ignores satp", target, 0x1234567890abcdefUL);
	check("MPRV MPP=S load via VA", mprv_load(VA_S + off, MODE_S), 0x1234567890abcdefUL);
	mprv_store(VA_S + off, MODE_S, 0x1111222233334444UL);
	check("MPRV MPP=S store via VA", target, 0x1111222233334444UL);
	check("MPRV MPP=S no traps", mrec.count, 0);

	reset();
	mprv_load(VA_S + off, MODE_U);
	check("MPRV MPP=U on S page faults", mrec.cause, EXC_LOAD_PAGE_FAULT);
	check("MPRV MPP=U fault mtval", mrec.tval, VA_S + off);
	reset();
	check("MPRV MPP=U on U page", mprv_load(VA_U + off, MODE_U), 0x1111222233334444UL);
	check("MPRV MPP=U on U page no trap", mrec.count, 0);

	reset();
	csr_clear(mstatus, MSTATUS_SUM);
	mprv_load(VA_U + off, MODE_S);
	check("MPRV MPP=S U page SUM=0 faults", mrec.cause, EXC_LOAD_PAGE_FAULT);
	reset();
	csr_set(mstatus, MSTATUS_SUM);
	check("MPRV MPP=S U page SUM=1", mprv_load(VA_U + off, MODE_S), 0x1111222233334444UL);
	csr_clear(mstatus, MSTATUS_SUM);
	check("MPRV MPP=S U page SUM=1 no trap", mrec.count, 0);

	reset();
	mprv_store(VA_RO + off, MODE_S, 5);
	check("MPRV store to read-only faults", mrec.cause, EXC_STORE_PAGE_FAULT);
	check("MPRV store fault mtval", mrec.tval, VA_RO + off);
	check("MPRV faulting store did not write", target, 0x1111222233334444UL);

	reset();
	check("MPRV MPP=M: no translation", mprv_load((uint64_t)&target, MODE_M), 0x1111222233334444UL);
	check("MPRV MPP=M no trap", mrec.count, 0);

	csr_write(satp, 0);
	__asm__ volatile ("sfence.vma" ::: "memory");
}

int main(unsigned long hartid, void *dtb)
{
	printf("# privilege\n");
	m_trap_handler = m_handler;
	s_trap_handler = s_handler;
	modes();
	illegal_returns();
	counter_enables();
	mprv();
	return check_summary();
}
