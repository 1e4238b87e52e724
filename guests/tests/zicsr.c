/*
 * zicsr - CSR instructions: csrrw/csrrs/csrrc and the immediate forms
 * (old value returned, no write when rs1 = x0 / uimm = 0), mscratch,
 * misa (RV64, IMAFDCSU present), mhartid, fcsr/frm/fflags aliasing,
 * sstatus/sie/sip as views of mstatus/mie/mip, counters, and the
 * illegal-instruction trap for writing a read-only CSR.
 */
#include "guest.h"

static volatile uint64_t trap_count, trap_cause, trap_tval;

static void count_trap(struct trap_frame *f)
{
	trap_count++;
	trap_cause = f->cause;
	trap_tval = f->tval;
	trap_skip(f);
}

static void basic(void)
{
	uint64_t saved = csr_read(mscratch), old, r;

	csr_write(mscratch, 0x1122334455667788UL);
	__asm__ volatile ("csrrw %0, mscratch, %1" : "=r"(old) : "r"(0xa5a5a5a5a5a5a5a5UL));
	check("csrrw old", old, 0x1122334455667788UL);
	check("csrrw new", csr_read(mscratch), 0xa5a5a5a5a5a5a5a5UL);
	__asm__ volatile ("csrrs %0, mscratch, %1" : "=r"(old) : "r"(0x0f0f0f0f0f0f0f0fUL));
	check("csrrs old", old, 0xa5a5a5a5a5a5a5a5UL);
	check("csrrs new", csr_read(mscratch), 0xafafafafafafafafUL);
	__asm__ volatile ("csrrc %0, mscratch, %1" : "=r"(old) : "r"(0xff000000000000ffUL));
	check("csrrc old", old, 0xafafafafafafafafUL);
	check("csrrc new", csr_read(mscratch), 0x00afafafafafaf00UL);
	__asm__ volatile ("csrrs %0, mscratch, zero" : "=r"(old));
	check("csrrs x0 reads", old, 0x00afafafafafaf00UL);
	__asm__ volatile ("csrrc %0, mscratch, zero" : "=r"(old));
	check("csrrc x0 no write", csr_read(mscratch), 0x00afafafafafaf00UL);

	__asm__ volatile ("csrrwi %0, mscratch, 31" : "=r"(old));
	check("csrrwi old", old, 0x00afafafafafaf00UL);
	check("csrrwi new", csr_read(mscratch), 31);
	__asm__ volatile ("csrrci %0, mscratch, 0x15" : "=r"(old));
	check("csrrci", csr_read(mscratch), 0x0a);
	__asm__ volatile ("csrrsi %0, mscratch, 0x11" : "=r"(old));
	check("csrrsi old", old, 0x0a);
	check("csrrsi new", csr_read(mscratch), 0x1b);
	__asm__ volatile ("csrrsi %0, mscratch, 0" : "=r"(old));
	check("csrrsi 0 no write", csr_read(mscratch), 0x1b);
	__asm__ volatile ("csrrwi zero, mscratch, 5\n\tcsrr %0, mscratch" : "=r"(r));
	check("csrrwi rd=x0", r, 5);
	/* csrrw with rd == rs1 */
	r = 0x77;
	__asm__ volatile ("csrrw %0, mscratch, %0" : "+r"(r));
	check("csrrw rd==rs1 old", r, 5);
	check("csrrw rd==rs1 new", csr_read(mscratch), 0x77);
	csr_write(mscratch, saved);

	r = csr_read(sscratch);
	csr_write(sscratch, 0xfeedfacecafebeefUL);
	check("sscratch", csr_read(sscratch), 0xfeedfacecafebeefUL);
	csr_write(sscratch, r);
}

static void ids(void)
{
	uint64_t misa = csr_read(misa);
	const uint64_t ext = (1 << ('I' - 'A')) | (1 << ('M' - 'A')) | (1 << ('A' - 'A')) |
			     (1 << ('F' - 'A')) | (1 << ('D' - 'A')) | (1 << ('C' - 'A')) |
			     (1 << ('S' - 'A')) | (1 << ('U' - 'A'));
	check("misa MXL=2 (RV64)", misa >> 62, 2);
	check("misa has IMAFDCSU", misa & ext, ext);
	check("mhartid", csr_read(mhartid), 0);
	/* these must exist (may read 0); just make sure they do not trap */
	trap_count = 0;
	(void)csr_read(mvendorid);
	(void)csr_read(marchid);
	(void)csr_read(mimpid);
	check("mvendorid/marchid/mimpid readable", trap_count, 0);
}

static void fcsr(void)
{
	uint64_t r;
	csr_write(fcsr, 0xff);
	check("fcsr 8 bits", csr_read(fcsr), 0xff);
	check("frm view", csr_read(frm), 7);
	check("fflags view", csr_read(fflags), 0x1f);
	csr_write(fcsr, 0xfff);
	check("fcsr upper bits ignored", csr_read(fcsr), 0xff);
	csr_write(frm, 3);
	check("frm write", csr_read(fcsr), 0x7f);
	csr_write(fflags, 0x0a);
	check("fflags write", csr_read(fcsr), 0x6a);
	__asm__ volatile ("fsflags %0, zero" : "=r"(r));
	check("fsflags swap", r, 0x0a);
	__asm__ volatile ("fsrm %0, zero" : "=r"(r));
	check("fsrm swap", r, 3);
	check("fcsr cleared", csr_read(fcsr), 0);
	csr_write(fflags, 0);
}

static void views(void)
{
	uint64_t ms;

	/* sstatus is a window on mstatus */
	csr_clear(mstatus, MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SUM);
	csr_set(sstatus, MSTATUS_SIE);
	check("sstatus.SIE -> mstatus", csr_read(mstatus) & MSTATUS_SIE, MSTATUS_SIE);
	csr_set(mstatus, MSTATUS_SUM);
	check("mstatus.SUM -> sstatus", csr_read(sstatus) & MSTATUS_SUM, MSTATUS_SUM);
	csr_set(sstatus, MSTATUS_MIE | MSTATUS_MPP);	/* M fields not visible/writable */
	ms = csr_read(mstatus);
	check("sstatus cannot set MIE", ms & MSTATUS_MIE, 0);
	check("sstatus hides MPP", csr_read(sstatus) & MSTATUS_MPP, 0);
	csr_clear(mstatus, MSTATUS_SIE | MSTATUS_SUM);
	check("sstatus.SIE cleared", csr_read(sstatus) & MSTATUS_SIE, 0);
	check("mstatus.UXL=2", (csr_read(mstatus) >> 32) & 3, 2);
	check("mstatus.SXL=2", (csr_read(mstatus) >> 34) & 3, 2);

	/* sie = mie & mideleg (for the S-level bits) */
	csr_write(mideleg, (1 << IRQ_S_SOFT) | (1 << IRQ_S_TIMER) | (1 << IRQ_S_EXT));
	check("mideleg S bits", csr_read(mideleg) & 0x222, 0x222);
	csr_write(mie, (1 << IRQ_S_SOFT) | (1 << IRQ_M_TIMER));
	check("sie view of mie", csr_read(sie), 1 << IRQ_S_SOFT);
	csr_set(sie, 1 << IRQ_S_TIMER);
	check("sie write -> mie", csr_read(mie), (1 << IRQ_S_SOFT) | (1 << IRQ_S_TIMER) | (1 << IRQ_M_TIMER));
	csr_write(mie, 0);
	/* sip.SSIP is writable from S and visible in mip */
	csr_set(sip, 1 << IRQ_S_SOFT);
	check("sip.SSIP -> mip", csr_read(mip) & (1 << IRQ_S_SOFT), 1 << IRQ_S_SOFT);
	csr_clear(mip, 1 << IRQ_S_SOFT);
	check("mip.SSIP clear -> sip", csr_read(sip) & (1 << IRQ_S_SOFT), 0);
	csr_write(mideleg, 0);
	check("sie empty without mideleg", csr_read(sie), 0);
}

static void counters(void)
{
	uint64_t a, b;
	a = csr_read(minstret);
	__asm__ volatile ("nop\n\tnop\n\tnop\n\tnop");
	b = csr_read(minstret);
	check("minstret advances", b - a >= 4, 1);
	a = csr_read(mcycle);
	__asm__ volatile ("nop\n\tnop\n\tnop\n\tnop");
	b = csr_read(mcycle);
	check("mcycle advances", b > a, 1);
	a = csr_read(instret);
	b = csr_read(instret);
	check("instret readable in M", b >= a, 1);
	a = csr_read(time);
	for (volatile int i = 0; i < 20000; i++)
		;
	b = csr_read(time);
	check("time advances", b > a, 1);
	check("time ~ mtime", mtime_read() - b < MTIME_HZ, 1);
	/* minstret is writable */
	csr_write(minstret, 1000000);
	a = csr_read(minstret);
	check("minstret write", a >= 1000000, 1);
}

static void illegal(void)
{
	uint64_t r = 0;
	trap_count = 0;
	__asm__ volatile ("csrw mhartid, zero");	/* read-only CSR */
	check("write mhartid traps", trap_count, 1);
	check("write mhartid mcause", trap_cause, EXC_ILLEGAL_INST);
	check("write mhartid mtval", trap_tval, 0xf1401073);
	trap_count = 0;
	__asm__ volatile ("csrrs %0, mhartid, zero" : "=r"(r));	/* read only: fine */
	check("csrrs x0 on read-only ok", trap_count, 0);
	trap_count = 0;
	__asm__ volatile ("csrrsi %0, mimpid, 0" : "=r"(r));
	check("csrrsi 0 on read-only ok", trap_count, 0);
	trap_count = 0;
	__asm__ volatile ("csrrci %0, mvendorid, 1" : "=r"(r));
	check("csrrci 1 on read-only traps", trap_count, 1);
	trap_count = 0;
	__asm__ volatile ("csrr t0, 0x7ff" ::: "t0");	/* custom M CSR, not implemented */
	check("unimplemented csr traps", trap_count, 1);
	check("unimplemented csr mcause", trap_cause, EXC_ILLEGAL_INST);
	check("unimplemented csr mtval", trap_tval, 0x7ff022f3);
}

int main(unsigned long hartid, void *dtb)
{
	printf("# zicsr\n");
	m_trap_handler = count_trap;
	basic();
	ids();
	fcsr();
	views();
	counters();
	illegal();
	return check_summary();
}
