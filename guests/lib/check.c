/* check.c - "ok N name" / "FAIL N name got X want Y" self-check output. */
#include "guest.h"

static unsigned n_checks, n_failed;

void check(const char *name, uint64_t got, uint64_t want)
{
	n_checks++;
	if (got == want) {
		printf("ok %u %s\n", n_checks, name);
	} else {
		n_failed++;
		printf("FAIL %u %s got 0x%lx want 0x%lx\n", n_checks, name, got, want);
	}
}

int check_summary(void)
{
	if (n_failed) {
		printf("FAILED %u of %u checks\n", n_failed, n_checks);
		return 1;
	}
	printf("PASSED all %u checks\n", n_checks);
	return 0;
}
