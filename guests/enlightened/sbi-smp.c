/*
 * sbi-smp - the boot hart starts every other hart through SBI HSM; each
 * prints, checks in on a shared atomic counter and waits for an IPI (SBI
 * IPI sets its SSIP); the boot hart sends one IPI to all of them, waits
 * until HSM reports them all STOPPED again, and shuts down.
 */
#include "sbi.h"

static volatile unsigned long checked_in;
static volatile unsigned long got_ipi;
static unsigned long boot_hart;

static void worker(unsigned long id, void *arg)
{
	printf("hart %lu: started by hart %lu (opaque %s)\n", id, boot_hart, (const char *)arg);
	__atomic_fetch_add(&checked_in, 1, __ATOMIC_SEQ_CST);
	csr_set(sie, 1UL << IRQ_S_SOFT);	/* WFI wakes on SSIP; sstatus.SIE stays 0 */
	while (!(csr_read(sip) & (1UL << IRQ_S_SOFT)))
		__asm__ volatile ("wfi");
	csr_clear(sip, 1UL << IRQ_S_SOFT);
	__atomic_fetch_add(&got_ipi, 1, __ATOMIC_SEQ_CST);
	printf("hart %lu: got the IPI, stopping\n", id);
}	/* returning stops the hart (sbi_hart_stop, crt0.S) */

static int wait_for(volatile unsigned long *v, unsigned long want)
{
	for (unsigned long spins = 0; spins < 50000000; spins++)
		if (__atomic_load_n(v, __ATOMIC_SEQ_CST) == want)
			return 1;
	return 0;
}

int main(unsigned long hartid, void *dtb)
{
	boot_hart = hartid;
	unsigned long n = smp_hart_count();
	printf("boot hart %lu: %lu harts\n", hartid, n);
	unsigned long others = 0;
	for (unsigned long h = 0; h < n; h++) {
		if (h == hartid)
			continue;
		long rc = smp_start(h, worker, "ok");
		if (rc != SBI_SUCCESS) {
			printf("hart_start(%lu) failed: %ld\n", h, rc);
			return 1;
		}
		others |= 1UL << h;
	}
	if (!wait_for(&checked_in, n - 1)) {
		printf("only %lu of %lu harts checked in\n", checked_in, n - 1);
		return 2;
	}
	printf("boot hart: all %lu other harts checked in\n", n - 1);
	long rc = sbi_send_ipi(others, 0);
	if (rc != SBI_SUCCESS || !wait_for(&got_ipi, n - 1)) {
		printf("IPI: send %ld, %lu of %lu received\n", rc, got_ipi, n - 1);
		return 3;
	}
	for (unsigned long h = 0; h < n; h++) {
		if (h == hartid)
			continue;
		unsigned long spins = 0;
		while (sbi_hart_get_status(h).value != SBI_HSM_STOPPED && spins++ < 10000000)
			;
		if (sbi_hart_get_status(h).value != SBI_HSM_STOPPED) {
			printf("hart %lu did not stop\n", h);
			return 4;
		}
	}
	printf("boot hart: every other hart stopped; %lu harts in all\n", n);
	return 0;
}
