/*
 * sbi-timer - S-mode timer interrupts from SBI set_timer: five ticks 1 ms
 * apart, each re-armed from the interrupt handler, while the main loop
 * waits in WFI; then the checks that set_timer((uint64_t)-1) clears a
 * pending STIP and that a deadline in the past interrupts at once (legacy
 * set_timer, EID 0).
 */
#include "sbi.h"

#define TICK (MTIME_HZ / 1000)	/* 1 ms */
#define TICKS 5

static volatile unsigned ticks;
static volatile unsigned late;
static uint64_t deadline;

static uint64_t now(void) { return csr_read(time); }

static void on_trap(struct trap_frame *f)
{
	if (f->cause != (CAUSE_INTR | IRQ_S_TIMER)) {
		printf("unexpected trap: scause 0x%lx sepc 0x%lx\n", f->cause, f->epc);
		exit(99);
	}
	if (now() < deadline)
		late++;		/* "early", strictly: an interrupt before its deadline */
	ticks++;
	if (ticks < TICKS) {
		deadline += TICK;
		sbi_set_timer(deadline);
	} else {
		sbi_set_timer(~0UL);	/* disarm: clears STIP */
	}
}

int main(unsigned long hartid, void *dtb)
{
	s_trap_handler = on_trap;
	csr_set(sie, 1UL << IRQ_S_TIMER);
	deadline = now() + TICK;
	sbi_set_timer(deadline);
	csr_set(sstatus, MSTATUS_SIE);
	unsigned seen = 0;
	while (ticks < TICKS) {
		__asm__ volatile ("wfi");
		while (seen < ticks)
			printf("tick %u\n", ++seen);
	}
	while (seen < ticks)
		printf("tick %u\n", ++seen);
	printf("timer: %u interrupts, %u before their deadline\n", ticks, late);

	csr_clear(sstatus, MSTATUS_SIE);
	int stip = (csr_read(sip) >> IRQ_S_TIMER) & 1;
	printf("after set_timer(-1): STIP %d\n", stip);

	/* A deadline in the past: STIP at once, taken as soon as SIE is set. */
	sbi_legacy(SBI_LEGACY_SET_TIMER, now() - 1, 0, 0);
	stip = (csr_read(sip) >> IRQ_S_TIMER) & 1;
	unsigned before = ticks;
	csr_set(sstatus, MSTATUS_SIE);
	csr_clear(sstatus, MSTATUS_SIE);
	printf("past deadline (legacy set_timer): STIP %d, interrupt taken %s\n", stip,
	       ticks == before + 1 ? "yes" : "no");
	return ticks == TICKS + 1 && late == 0 && stip == 1 ? 0 : 1;
}
