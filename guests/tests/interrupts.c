/*
 * interrupts - CLINT timer (mtimecmp) and software (msip) interrupts,
 * mip/mie/mstatus.MIE gating, priority order (MSI > MTI, SSI > STI),
 * WFI wake-up with interrupts globally disabled, M-mode interrupts taken
 * from U-mode regardless of MIE, delegation of S-level interrupts to
 * S-mode via mideleg, and vectored mtvec. Only causes and counts are
 * printed (nothing timing-dependent).
 */
#include "guest.h"

#define INTR(n) (CAUSE_INTR | (n))
#define MIP_MSIP (1UL << IRQ_M_SOFT)
#define MIP_MTIP (1UL << IRQ_M_TIMER)
#define MIP_SSIP (1UL << IRQ_S_SOFT)
#define MIP_STIP (1UL << IRQ_S_TIMER)

extern char m_vec_table[];
extern volatile uint64_t vec_hit;

struct rec {
	uint64_t count, cause, pp, seq, late;
};
static volatile struct rec mrec, srec;

static void reset(void)
{
	memset((void *)&mrec, 0, sizeof(mrec));
	memset((void *)&srec, 0, sizeof(srec));
}

static void timer_off(void)
{
	mmio_write64(CLINT_MTIMECMP(0), ~0UL);
}

static void m_handler(struct trap_frame *f)
{
	mrec.seq |= (f->cause & 0xff) << (8 * (mrec.count & 7));
	mrec.count++;
	mrec.cause = f->cause;
	mrec.pp = (f->status & MSTATUS_MPP) >> 11;
	switch (f->cause) {
	case INTR(IRQ_M_TIMER):
		mrec.late = mtime_read() >= mmio_read64(CLINT_MTIMECMP(0));
		timer_off();
		break;
	case INTR(IRQ_M_SOFT):
		mmio_write32(CLINT_MSIP(0), 0);
		break;
	case INTR(IRQ_S_SOFT):
		csr_clear(mip, MIP_SSIP);
		break;
	case INTR(IRQ_S_TIMER):
		csr_clear(mip, MIP_STIP);
		break;
	default:
		if (f->cause & CAUSE_INTR) {
			printf("unexpected interrupt 0x%lx\n", f->cause);
			exit(97);
		}
		trap_skip(f);
	}
}

static void s_handler(struct trap_frame *f)
{
	srec.count++;
	srec.cause = f->cause;
	srec.pp = (f->status & MSTATUS_SPP) >> 8;
	if (f->cause == INTR(IRQ_S_SOFT))
		csr_clear(sip, MIP_SSIP);
	else if (f->cause == INTR(IRQ_S_TIMER))
		csr_clear(sie, MIP_STIP);	/* S cannot clear STIP: mask it */
	else
		trap_skip(f);
}

static void wait_mcount(uint64_t n)
{
	for (long i = 0; i < 10000000 && mrec.count < n; i++)
		__asm__ volatile ("wfi");
}

static void pending_bits(void)
{
	timer_off();
	check("mtimecmp=-1: MTIP clear", csr_read(mip) & MIP_MTIP, 0);
	mmio_write64(CLINT_MTIMECMP(0), 0);
	check("mtimecmp=0: MTIP set", csr_read(mip) & MIP_MTIP, MIP_MTIP);
	timer_off();
	check("mtimecmp=-1 again: MTIP clear", csr_read(mip) & MIP_MTIP, 0);
	mmio_write32(CLINT_MSIP(0), 1);
	check("msip reads 1", mmio_read32(CLINT_MSIP(0)), 1);
	check("msip=1: MSIP set", csr_read(mip) & MIP_MSIP, MIP_MSIP);
	mmio_write32(CLINT_MSIP(0), 0);
	check("msip=0: MSIP clear", csr_read(mip) & MIP_MSIP, 0);
	uint64_t a = mtime_read();
	for (volatile int i = 0; i < 10000; i++)
		;
	check("mtime advances", mtime_read() > a, 1);
}

static void machine_irqs(void)
{
	/* timer: fires once mtime >= mtimecmp */
	reset();
	csr_write(mie, MIP_MTIP);
	mmio_write64(CLINT_MTIMECMP(0), mtime_read() + 1000);
	csr_set(mstatus, MSTATUS_MIE);
	wait_mcount(1);
	csr_clear(mstatus, MSTATUS_MIE);
	check("timer irq count", mrec.count, 1);
	check("timer irq mcause", mrec.cause, INTR(IRQ_M_TIMER));
	check("timer irq mtime >= mtimecmp", mrec.late, 1);
	check("timer irq MPP=M", mrec.pp, MODE_M);

	/* software */
	reset();
	csr_write(mie, MIP_MSIP);
	csr_set(mstatus, MSTATUS_MIE);
	mmio_write32(CLINT_MSIP(0), 1);
	wait_mcount(1);
	csr_clear(mstatus, MSTATUS_MIE);
	check("software irq count", mrec.count, 1);
	check("software irq mcause", mrec.cause, INTR(IRQ_M_SOFT));
	check("software irq cleared", mmio_read32(CLINT_MSIP(0)), 0);

	/* gating: pending + enabled in mie, but mstatus.MIE = 0 */
	reset();
	csr_write(mie, MIP_MSIP);
	mmio_write32(CLINT_MSIP(0), 1);
	for (volatile int i = 0; i < 1000; i++)
		;
	check("MIE=0 blocks M irq", mrec.count, 0);
	csr_set(mstatus, MSTATUS_MIE);
	__asm__ volatile ("nop");
	csr_clear(mstatus, MSTATUS_MIE);
	check("MIE=1 takes it", mrec.count, 1);

	/* gating: pending, MIE = 1, but not enabled in mie */
	reset();
	csr_write(mie, 0);
	mmio_write32(CLINT_MSIP(0), 1);
	csr_set(mstatus, MSTATUS_MIE);
	for (volatile int i = 0; i < 1000; i++)
		;
	csr_clear(mstatus, MSTATUS_MIE);
	check("mie=0 blocks M irq", mrec.count, 0);
	mmio_write32(CLINT_MSIP(0), 0);

	/* priorities. The spec order is MEI > MSI > MTI > SEI > SSI > STI, but
	 * QEMU 7.2 (without AIA) takes the lowest-numbered pending interrupt
	 * first, so only pairs on which both orders agree are checked. */
	reset();
	mmio_write32(CLINT_MSIP(0), 1);
	mmio_write64(CLINT_MTIMECMP(0), 0);
	csr_write(mie, MIP_MSIP | MIP_MTIP);
	check("MSI+MTI pending", csr_read(mip) & 0xaa, MIP_MSIP | MIP_MTIP);
	csr_set(mstatus, MSTATUS_MIE);
	wait_mcount(2);
	csr_clear(mstatus, MSTATUS_MIE);
	check("priority MSI before MTI", mrec.seq, 0x0703);
	reset();
	csr_set(mip, MIP_SSIP | MIP_STIP);
	csr_write(mie, MIP_SSIP | MIP_STIP);
	check("SSI+STI pending", csr_read(mip) & 0xaa, MIP_SSIP | MIP_STIP);
	csr_set(mstatus, MSTATUS_MIE);
	wait_mcount(2);
	csr_clear(mstatus, MSTATUS_MIE);
	check("priority SSI before STI", mrec.seq, 0x0501);
	csr_write(mie, 0);

	/* WFI wakes up on a pending+enabled interrupt even with MIE = 0 */
	reset();
	csr_write(mie, MIP_MTIP);
	mmio_write64(CLINT_MTIMECMP(0), mtime_read() + 2000);
	for (long i = 0; i < 10000000 && !(csr_read(mip) & MIP_MTIP); i++)
		__asm__ volatile ("wfi");
	check("wfi wake: MTIP pending", csr_read(mip) & MIP_MTIP, MIP_MTIP);
	check("wfi wake: no trap with MIE=0", mrec.count, 0);
	timer_off();
	csr_write(mie, 0);

	/*
	 * A timer that comes due while the hart only computes (nothing that
	 * makes an emulator look at interrupts again) is taken at the latest
	 * when the next WFI retires, before the instruction after it. (QEMU
	 * takes it during the loop; then the WFI is skipped.)
	 */
	reset();
	csr_write(mie, MIP_MTIP);
	mmio_write64(CLINT_MTIMECMP(0), mtime_read() + 5);
	csr_set(mstatus, MSTATUS_MIE);
	unsigned long x = 1;
	for (int i = 0; i < 500; i++)
		__asm__ volatile ("mul %0, %0, %1; add %0, %0, %1" : "+r"(x) : "r"((unsigned long)i + 3));
	if (mrec.count == 0)
		__asm__ volatile ("wfi" ::: "memory");
	uint64_t right_after = mrec.count;
	csr_clear(mstatus, MSTATUS_MIE);
	check("timer due mid-computation: taken by the next WFI", right_after, 1);
	timer_off();
	csr_write(mie, 0);
}

static uint64_t spin_until_m(uint64_t n)
{
	for (long i = 0; i < 10000000 && mrec.count < n; i++)
		;
	return mrec.count;
}

static uint64_t s_ssi(uint64_t arg)
{
	csr_set(sie, MIP_SSIP);
	csr_set(sstatus, MSTATUS_SIE);
	csr_set(sip, MIP_SSIP);
	for (long i = 0; i < 10000000 && srec.count < 1; i++)
		;
	csr_clear(sstatus, MSTATUS_SIE);
	return srec.count;
}

static uint64_t s_spin_sie0(uint64_t arg)
{
	for (volatile int i = 0; i < 1000; i++)
		;
	uint64_t n = srec.count;
	csr_set(sstatus, MSTATUS_SIE);	/* now it is taken */
	__asm__ volatile ("nop");
	csr_clear(sstatus, MSTATUS_SIE);
	return n;
}

static uint64_t u_spin_s(uint64_t arg)
{
	for (long i = 0; i < 10000000 && srec.count < 1; i++)
		;
	return srec.count;
}

static void lower_modes(void)
{
	/* M interrupts are always enabled in U/S, whatever mstatus.MIE says */
	reset();
	csr_write(mie, MIP_MSIP);
	mmio_write32(CLINT_MSIP(0), 1);
	run_in_mode(MODE_U, spin_until_m, 1);
	check("M irq from U with MIE=0", mrec.count, 1);
	check("M irq from U mcause", mrec.cause, INTR(IRQ_M_SOFT));
	check("M irq from U MPP=U", mrec.pp, MODE_U);
	reset();
	mmio_write32(CLINT_MSIP(0), 1);
	run_in_mode(MODE_S, spin_until_m, 1);
	check("M irq from S MPP=S", mrec.pp, MODE_S);
	csr_write(mie, 0);

	/* S software interrupt delegated to S */
	csr_write(mideleg, MIP_SSIP | MIP_STIP);
	reset();
	check("S ssi taken in S", run_in_mode(MODE_S, s_ssi, 0), 1);
	check("S ssi scause", srec.cause, INTR(IRQ_S_SOFT));
	check("S ssi SPP=S", srec.pp, 1);
	check("S ssi not seen by M", mrec.count, 0);

	/* SIE = 0 blocks S interrupts in S-mode */
	reset();
	csr_write(mie, MIP_SSIP);
	csr_set(mip, MIP_SSIP);
	check("SIE=0 blocks in S", run_in_mode(MODE_S, s_spin_sie0, 0), 0);
	check("SIE=1 takes it", srec.count, 1);

	/* in U-mode S interrupts are enabled whatever SIE says */
	reset();
	csr_set(mip, MIP_SSIP);
	check("S irq from U with SIE=0", run_in_mode(MODE_U, u_spin_s, 0), 1);
	check("S irq from U SPP=U", srec.pp, 0);

	/* delegated interrupts are not taken in M-mode */
	reset();
	csr_set(mip, MIP_SSIP);
	csr_set(mstatus, MSTATUS_MIE);
	for (volatile int i = 0; i < 1000; i++)
		;
	csr_clear(mstatus, MSTATUS_MIE);
	check("delegated irq ignored in M", mrec.count + srec.count, 0);
	csr_clear(mip, MIP_SSIP);

	/* S timer interrupt: M raises STIP, S takes it */
	reset();
	csr_write(mie, MIP_STIP);
	csr_set(mip, MIP_STIP);
	check("STIP -> S from U", run_in_mode(MODE_U, u_spin_s, 0), 1);
	check("STIP scause", srec.cause, INTR(IRQ_S_TIMER));
	csr_clear(mip, MIP_STIP);
	csr_write(mie, 0);
	csr_write(mideleg, 0);
}

static void vectored(void)
{
	csr_write(mtvec, (uint64_t)m_vec_table | 1);
	check("mtvec vectored mode", csr_read(mtvec), (uint64_t)m_vec_table | 1);

	reset();
	csr_write(mie, MIP_MSIP);
	mmio_write32(CLINT_MSIP(0), 1);
	csr_set(mstatus, MSTATUS_MIE);
	wait_mcount(1);
	csr_clear(mstatus, MSTATUS_MIE);
	check("vectored MSI -> entry 3", vec_hit, 3);
	check("vectored MSI mcause", mrec.cause, INTR(IRQ_M_SOFT));

	reset();
	csr_write(mie, MIP_MTIP);
	mmio_write64(CLINT_MTIMECMP(0), mtime_read() + 500);
	csr_set(mstatus, MSTATUS_MIE);
	wait_mcount(1);
	csr_clear(mstatus, MSTATUS_MIE);
	check("vectored MTI -> entry 7", vec_hit, 7);

	reset();
	__asm__ volatile ("li a7, 0\n\tecall" ::: "a7", "memory");
	check("vectored exception -> base", vec_hit, 0);
	check("vectored exception mcause", mrec.cause, EXC_ECALL_M);

	csr_write(mie, 0);
	csr_write(mtvec, (uint64_t)m_trap_entry);
}

int main(unsigned long hartid, void *dtb)
{
	printf("# interrupts\n");
	timer_off();
	m_trap_handler = m_handler;
	s_trap_handler = s_handler;
	pending_bits();
	machine_irqs();
	lower_modes();
	vectored();
	return check_summary();
}
