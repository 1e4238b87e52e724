/* smp.c - starting harts through SBI HSM (see crt0.S _secondary_start). */
#include "sbi.h"

struct smp_slot {
	void (*fn)(unsigned long hartid, void *arg);
	void *arg;
};
static struct smp_slot slots[MAX_HARTS];
extern char _secondary_start[];

long smp_start(unsigned long hartid, void (*fn)(unsigned long, void *), void *arg)
{
	if (hartid >= MAX_HARTS)
		return SBI_ERR_INVALID_PARAM;
	slots[hartid].fn = fn;
	slots[hartid].arg = arg;
	__asm__ volatile ("fence rw, rw" ::: "memory");
	return sbi_hart_start(hartid, (unsigned long)_secondary_start, (unsigned long)&slots[hartid]);
}

unsigned long smp_hart_count(void)
{
	unsigned long n = 0;
	while (n < MAX_HARTS && sbi_hart_get_status(n).error == SBI_SUCCESS)
		n++;
	return n;
}
