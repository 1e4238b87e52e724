/*
 * swap_pattern - writes a pattern over most of its RAM and checks it, pass
 * after pass, for hv's hypervisor-swap tests (run with -m 8M or more): the
 * host evicts its pages (code, stack and data) to a swap file while it
 * runs, and every one must come back with the bytes the guest last wrote.
 * Each pass writes a different pattern (so a page that came back stale, or
 * as zeros, fails the next check) and prints its checksum; a mismatch
 * prints where and exits 1.
 */
#include "guest.h"

#define AREA_BYTES (4UL << 20) /* 1,024 pages */
#define PASSES 3

extern char _end[];

static uint64_t pattern(uint64_t addr, uint64_t pass)
{
	uint64_t x = addr * 0x9e3779b97f4a7c15UL ^ (pass + 1) * 0xbf58476d1ce4e5b9UL;
	return x ^ (x >> 29);
}

int main(unsigned long hartid, void *dtb)
{
	uint64_t *area = (uint64_t *)(((uintptr_t)_end + 4095) & ~4095UL);
	uint64_t words = AREA_BYTES / 8;
	for (uint64_t pass = 0; pass < PASSES; pass++) {
		for (uint64_t i = 0; i < words; i++) area[i] = pattern((uint64_t)&area[i], pass);
		uint64_t sum = 0;
		for (uint64_t i = 0; i < words; i++) {
			uint64_t want = pattern((uint64_t)&area[i], pass);
			if (area[i] != want) {
				printf("pass %lu: word at %p is %lx, not %lx\n", pass, (void *)&area[i], area[i], want);
				exit(1);
			}
			sum += area[i];
		}
		printf("pass %lu ok, sum %lx\n", pass, sum);
	}
	printf("swap_pattern: %lu KiB checked %d times\n", AREA_BYTES >> 10, PASSES);
	return 0;
}
