/*
 * mmu - Sv39 and Sv48 page tables built here: 4 KiB pages, 2 MiB / 1 GiB
 * (and Sv48 512 GiB) superpages, load/store/fetch page faults with
 * mtval/stval, R/W/X permissions, reserved W-without-R, misaligned
 * superpage, non-canonical addresses, U pages and mstatus.SUM, MXR,
 * hardware A/D bit updates, sfence.vma after a remap, U-mode accesses,
 * delegation of page faults to S-mode, satp WARL.
 * The code runs identity-mapped (kernel gigapage at 0x80000000).
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
#define SATP_SV48 (9UL << 60)

#define PTE(pa, flags) ((((uint64_t)(pa)) >> 12) << 10 | (flags) | PTE_V)
#define TABLE(t) PTE(t, 0)
#define AD (PTE_A | PTE_D)

#define PG 4096
typedef uint64_t table_t[512] __attribute__((aligned(PG)));

static table_t root39, root39u, l1, l0, root48, l2_48, l2b_48;
static table_t page_a, page_b, page_c, page_d, page_u, page_x;

#define VA_BASE   0x40000000UL		/* root[1] -> l1 -> l0 -> 4 KiB pages */
#define VA_A      (VA_BASE + 0x0000)	/* page_a RW */
#define VA_B_RO   (VA_BASE + 0x1000)	/* page_b R */
#define VA_NONE   (VA_BASE + 0x2000)	/* invalid */
#define VA_C_AD   (VA_BASE + 0x3000)	/* page_c RW, A=D=0 */
#define VA_C_XO   (VA_BASE + 0x4000)	/* page_c X only */
#define VA_U      (VA_BASE + 0x5000)	/* page_u RW U */
#define VA_X      (VA_BASE + 0x6000)	/* page_x RX */
#define VA_X_NX   (VA_BASE + 0x7000)	/* page_x R */
#define VA_WO     (VA_BASE + 0x8000)	/* page_a W without R: reserved */
#define VA_X_U    (VA_BASE + 0x9000)	/* page_x RX U */
#define VA_MEGA   0x40200000UL		/* l1[1]: 2 MiB page -> RAM_BASE */
#define VA_MEGA_BAD 0x40400000UL	/* l1[2]: misaligned 2 MiB page */
#define VA_NONCANON39 0x0000004000000000UL
#define VA_48_GIGA  0x0000008000000000UL	/* Sv48 root[1] -> l2b[0] gigapage */
#define VA_48_NEG   0xffff800000000000UL	/* Sv48 root[256] -> l2b[0] */
#define VA_48_TERA  0x0000010000000000UL	/* Sv48 root[2]: 512 GiB page at PA 0 */
#define VA_NONCANON48 0x0000800000000000UL

static volatile uint64_t var = 0x600dc0ffee0ddba1UL;

struct rec {
	uint64_t count, cause, tval, epc, pp;
};
static volatile struct rec mrec, srec;

static void reset(void)
{
	memset((void *)&mrec, 0, sizeof(mrec));
	memset((void *)&srec, 0, sizeof(srec));
}

static void record(volatile struct rec *r, struct trap_frame *f, uint64_t pp)
{
	r->count++;
	r->cause = f->cause;
	r->tval = f->tval;
	r->epc = f->epc;
	r->pp = pp;
	if (f->cause & CAUSE_INTR) {
		printf("unexpected interrupt 0x%lx\n", f->cause);
		exit(97);
	}
	if (f->cause == EXC_INST_PAGE_FAULT)	/* we were called: return */
		f->epc = f->x[1];
	else
		trap_skip(f);
}

static void m_handler(struct trap_frame *f)
{
	record(&mrec, f, (f->status & MSTATUS_MPP) >> 11);
}

static void s_handler(struct trap_frame *f)
{
	record(&srec, f, (f->status & MSTATUS_SPP) >> 8);
}

/* --- run in S or U mode ---------------------------------------------------- */
static uint64_t load(uint64_t va)
{
	return *(volatile uint64_t *)va;
}

static uint64_t store(uint64_t va)
{
	*(volatile uint64_t *)va = 0x5707e5707e5707e0UL;
	return 0;
}

static uint64_t exec(uint64_t va)
{
	return ((uint64_t (*)(void))va)();
}

static uint64_t sfence_load(uint64_t va)
{
	__asm__ volatile ("sfence.vma %0, zero" :: "r"(va) : "memory");
	return *(volatile uint64_t *)va;
}

static void setup(void)
{
	uint64_t ram = RAM_BASE;

	page_a[0] = 0xaaaaaaaaaaaaaaaaUL;
	page_b[0] = 0xbbbbbbbbbbbbbbbbUL;
	page_c[0] = 0xccccccccccccccccUL;
	page_d[0] = 0xddddddddddddddddUL;
	page_u[0] = 0x5555555555555555UL;
	page_x[0] = 0x0000806702a00513UL;	/* li a0, 42 ; ret */
	__asm__ volatile ("fence.i" ::: "memory");

	/* Sv39 kernel table */
	root39[0] = PTE(0, PTE_R | PTE_W | AD);			/* MMIO gigapage */
	root39[1] = TABLE(l1);
	root39[2] = PTE(ram, PTE_R | PTE_W | PTE_X | AD);	/* identity RAM */
	l1[0] = TABLE(l0);
	l1[1] = PTE(ram, PTE_R | PTE_W | AD);			/* 2 MiB */
	l1[2] = PTE(ram + 0x1000, PTE_R | PTE_W | AD);		/* misaligned */
	l0[0] = PTE(page_a, PTE_R | PTE_W | AD);
	l0[1] = PTE(page_b, PTE_R | PTE_A);
	l0[2] = 0;
	l0[3] = PTE(page_c, PTE_R | PTE_W);
	l0[4] = PTE(page_c, PTE_X | PTE_A);
	l0[5] = PTE(page_u, PTE_R | PTE_W | PTE_U | AD);
	l0[6] = PTE(page_x, PTE_R | PTE_X | PTE_A);
	l0[7] = PTE(page_x, PTE_R | PTE_A);
	l0[8] = PTE(page_a, PTE_W | AD);
	l0[9] = PTE(page_x, PTE_R | PTE_X | PTE_U | PTE_A);

	/* same, but RAM is a user gigapage: for code running in U-mode */
	memcpy(root39u, root39, sizeof(root39u));
	root39u[2] = PTE(ram, PTE_R | PTE_W | PTE_X | PTE_U | AD);

	/* Sv48 */
	root48[0] = TABLE(l2_48);
	root48[1] = TABLE(l2b_48);
	root48[2] = PTE(0, PTE_R | PTE_W | AD);			/* 512 GiB page at 0 */
	root48[256] = TABLE(l2b_48);
	l2_48[0] = root39[0];
	l2_48[1] = root39[1];
	l2_48[2] = root39[2];
	l2b_48[0] = PTE(ram, PTE_R | PTE_W | AD);
}

static void use(table_t root, uint64_t mode)
{
	csr_write(satp, mode | ((uint64_t)root >> 12));
	__asm__ volatile ("sfence.vma" ::: "memory");
}

static uint64_t off_var(void)
{
	return (uint64_t)&var - RAM_BASE;
}

static void sv39(void)
{
	use(root39, SATP_SV39);
	check("satp Sv39", csr_read(satp), SATP_SV39 | ((uint64_t)root39 >> 12));

	reset();
	check("S load 4K page", run_in_mode(MODE_S, load, VA_A), 0xaaaaaaaaaaaaaaaaUL);
	run_in_mode(MODE_S, store, VA_A);
	check("S store 4K page", page_a[0], 0x5707e5707e5707e0UL);
	check("S load 2M page", run_in_mode(MODE_S, load, VA_MEGA + off_var()), var);
	check("S load 1G page", run_in_mode(MODE_S, load, (uint64_t)&var), var);
	check("S exec RX page", run_in_mode(MODE_S, exec, VA_X), 42);
	check("S no faults so far", mrec.count, 0);

	reset();
	run_in_mode(MODE_S, load, VA_NONE + 0x18);
	check("load invalid PTE: cause", mrec.cause, EXC_LOAD_PAGE_FAULT);
	check("load invalid PTE: mtval", mrec.tval, VA_NONE + 0x18);
	check("load invalid PTE: MPP=S", mrec.pp, MODE_S);
	reset();
	run_in_mode(MODE_S, store, VA_NONE + 0x20);
	check("store invalid PTE: cause", mrec.cause, EXC_STORE_PAGE_FAULT);
	check("store invalid PTE: mtval", mrec.tval, VA_NONE + 0x20);
	reset();
	run_in_mode(MODE_S, exec, VA_NONE + 0x40);
	check("fetch invalid PTE: cause", mrec.cause, EXC_INST_PAGE_FAULT);
	check("fetch invalid PTE: mtval", mrec.tval, VA_NONE + 0x40);
	check("fetch invalid PTE: mepc", mrec.epc, VA_NONE + 0x40);

	reset();
	check("load read-only page", run_in_mode(MODE_S, load, VA_B_RO), 0xbbbbbbbbbbbbbbbbUL);
	run_in_mode(MODE_S, store, VA_B_RO + 8);
	check("store read-only: cause", mrec.cause, EXC_STORE_PAGE_FAULT);
	check("store read-only: mtval", mrec.tval, VA_B_RO + 8);
	check("store read-only: no write", page_b[1], 0);
	reset();
	run_in_mode(MODE_S, exec, VA_X_NX);
	check("fetch non-X: cause", mrec.cause, EXC_INST_PAGE_FAULT);
	check("fetch non-X: mtval", mrec.tval, VA_X_NX);
	reset();
	run_in_mode(MODE_S, load, VA_WO);
	check("W without R: load faults", mrec.cause, EXC_LOAD_PAGE_FAULT);
	reset();
	run_in_mode(MODE_S, load, VA_MEGA_BAD);
	check("misaligned superpage faults", mrec.cause, EXC_LOAD_PAGE_FAULT);
	check("misaligned superpage mtval", mrec.tval, VA_MEGA_BAD);
	reset();
	run_in_mode(MODE_S, load, VA_NONCANON39);
	check("non-canonical Sv39 VA faults", mrec.cause, EXC_LOAD_PAGE_FAULT);

	/* MXR: execute-only page readable only with MXR */
	reset();
	run_in_mode(MODE_S, load, VA_C_XO);
	check("load X-only, MXR=0 faults", mrec.cause, EXC_LOAD_PAGE_FAULT);
	reset();
	csr_set(mstatus, MSTATUS_MXR);
	check("load X-only, MXR=1", run_in_mode(MODE_S, load, VA_C_XO), 0xccccccccccccccccUL);
	csr_clear(mstatus, MSTATUS_MXR);
	check("load X-only, MXR=1 no fault", mrec.count, 0);

	/* SUM: S access to U pages */
	reset();
	run_in_mode(MODE_S, load, VA_U);
	check("S load U page, SUM=0 faults", mrec.cause, EXC_LOAD_PAGE_FAULT);
	reset();
	csr_set(mstatus, MSTATUS_SUM);
	check("S load U page, SUM=1", run_in_mode(MODE_S, load, VA_U), 0x5555555555555555UL);
	run_in_mode(MODE_S, store, VA_U);
	check("S store U page, SUM=1", page_u[0], 0x5707e5707e5707e0UL);
	check("SUM=1 no faults", mrec.count, 0);
	run_in_mode(MODE_S, exec, VA_X_U);
	check("S exec U page faults even with SUM", mrec.cause, EXC_INST_PAGE_FAULT);
	csr_clear(mstatus, MSTATUS_SUM);

	/* hardware A/D updates */
	reset();
	check("A/D: initially clear", l0[3] & AD, 0);
	check("A/D: load", run_in_mode(MODE_S, load, VA_C_AD), 0xccccccccccccccccUL);
	check("A/D: A set by load", l0[3] & AD, PTE_A);
	run_in_mode(MODE_S, store, VA_C_AD + 8);
	check("A/D: D set by store", l0[3] & AD, AD);
	check("A/D: store landed", page_c[1], 0x5707e5707e5707e0UL);
	check("A/D: no faults", mrec.count, 0);

	/* remap + sfence.vma */
	check("before remap", run_in_mode(MODE_S, load, VA_A + 8), 0);
	l0[0] = PTE(page_d, PTE_R | PTE_W | AD);
	check("after remap + sfence.vma", run_in_mode(MODE_S, sfence_load, VA_A), 0xddddddddddddddddUL);
	l0[0] = PTE(page_a, PTE_R | PTE_W | AD);
	__asm__ volatile ("sfence.vma" ::: "memory");

	/* U-mode */
	use(root39u, SATP_SV39);
	reset();
	check("U load U page", run_in_mode(MODE_U, load, VA_U), 0x5707e5707e5707e0UL);
	check("U exec U page", run_in_mode(MODE_U, exec, VA_X_U), 42);
	check("U no faults", mrec.count, 0);
	run_in_mode(MODE_U, load, VA_A);
	check("U load S page faults", mrec.cause, EXC_LOAD_PAGE_FAULT);
	check("U load S page MPP=U", mrec.pp, MODE_U);
	check("U load S page mtval", mrec.tval, VA_A);
	reset();
	run_in_mode(MODE_U, exec, VA_X);
	check("U exec S page faults", mrec.cause, EXC_INST_PAGE_FAULT);

	/* delegated to S */
	use(root39, SATP_SV39);
	csr_write(medeleg, (1 << EXC_LOAD_PAGE_FAULT) | (1 << EXC_STORE_PAGE_FAULT) |
			   (1 << EXC_INST_PAGE_FAULT));
	reset();
	run_in_mode(MODE_S, load, VA_NONE + 8);
	check("delegated load PF -> S", srec.count * 16 + mrec.count, 16);
	check("delegated load PF scause", srec.cause, EXC_LOAD_PAGE_FAULT);
	check("delegated load PF stval", srec.tval, VA_NONE + 8);
	check("delegated load PF SPP=S", srec.pp, 1);
	reset();
	run_in_mode(MODE_S, store, VA_B_RO);
	check("delegated store PF scause", srec.cause, EXC_STORE_PAGE_FAULT);
	check("delegated store PF stval", srec.tval, VA_B_RO);
	reset();
	run_in_mode(MODE_S, exec, VA_X_NX);
	check("delegated fetch PF scause", srec.cause, EXC_INST_PAGE_FAULT);
	check("delegated fetch PF stval", srec.tval, VA_X_NX);
	csr_write(medeleg, 0);
}

static void sv48(void)
{
	use(root48, SATP_SV48);
	check("satp Sv48", csr_read(satp), SATP_SV48 | ((uint64_t)root48 >> 12));
	reset();
	check("Sv48 4K page", run_in_mode(MODE_S, load, VA_A), 0x5707e5707e5707e0UL);
	check("Sv48 1G page", run_in_mode(MODE_S, load, VA_48_GIGA + off_var()), var);
	check("Sv48 negative VA", run_in_mode(MODE_S, load, VA_48_NEG + off_var()), var);
	check("Sv48 512G page", run_in_mode(MODE_S, load, VA_48_TERA + (uint64_t)&var), var);
	check("Sv48 2M page", run_in_mode(MODE_S, load, VA_MEGA + off_var()), var);
	check("Sv48 no faults", mrec.count, 0);
	run_in_mode(MODE_S, load, VA_NONCANON48);
	check("non-canonical Sv48 VA faults", mrec.cause, EXC_LOAD_PAGE_FAULT);
	reset();
	run_in_mode(MODE_S, load, VA_48_GIGA + 0x40000000UL);	/* l2b[1] invalid */
	check("Sv48 invalid PTE faults", mrec.cause, EXC_LOAD_PAGE_FAULT);
	check("Sv48 invalid PTE mtval", mrec.tval, VA_48_GIGA + 0x40000000UL);
}

static void satp_warl(void)
{
	uint64_t v = SATP_SV39 | ((uint64_t)root39 >> 12);
	csr_write(satp, v);
	csr_write(satp, (1UL << 60) | 0x12345);	/* reserved MODE: no effect */
	check("satp reserved mode ignored", csr_read(satp), v);
	csr_write(satp, 0);
	check("satp bare", csr_read(satp), 0);
	__asm__ volatile ("sfence.vma" ::: "memory");
}

int main(unsigned long hartid, void *dtb)
{
	printf("# mmu\n");
	m_trap_handler = m_handler;
	s_trap_handler = s_handler;
	setup();
	sv39();
	sv48();
	satp_warl();
	return check_summary();
}
