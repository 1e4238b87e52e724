/*
 * tlb - a TLB-heavy benchmark guest for comparing the second-stage modes
 * (direct, nested, shadow).
 *
 * M-mode builds Sv39 tables that identity-map the first 64 MiB of RAM with
 * 4 KiB pages, then S-mode touches 4096 pages (16 MiB, far more than any
 * TLB here holds) round-robin, one load or store per page, so nearly every
 * access misses the TLB and pays a page walk. Output is a checksum and is
 * the same on every emulator and in every mode.
 */
#include "guest.h"

#define MAPPED     (64UL << 20)
#define PAGES      4096UL
#define ROUNDS     400UL
#define REGION     (RAM_BASE + (32UL << 20))
#define PTE_V 1UL
#define PTE_R 2UL
#define PTE_W 4UL
#define PTE_X 8UL
#define PTE_A 0x40UL
#define PTE_D 0x80UL
#define SATP_SV39 (8UL << 60)

static uint64_t root[512] __attribute__((aligned(4096)));
static uint64_t l1[512] __attribute__((aligned(4096)));
static uint64_t l0[MAPPED / (2UL << 20)][512] __attribute__((aligned(4096)));

static uint64_t touch(uint64_t rounds)
{
	uint64_t sum = 0;
	for (uint64_t r = 0; r < rounds; r++) {
		for (uint64_t p = 0; p < PAGES; p++) {
			volatile uint64_t *q = (volatile uint64_t *)(REGION + p * 4096 + ((p * 8 + r * 64) & 0xff8));
			if ((p & 3) == 0)
				*q = sum ^ p;
			else
				sum += *q + p;
		}
	}
	return sum;
}

int main(unsigned long hartid, void *dtb)
{
	/* VA 0x8000_0000.. = PA, 4 KiB pages: root[2] -> l1, l1[i] -> l0[i]. */
	root[2] = ((uint64_t)l1 >> 12 << 10) | PTE_V;
	for (uint64_t i = 0; i < MAPPED / (2UL << 20); i++) {
		l1[i] = ((uint64_t)l0[i] >> 12 << 10) | PTE_V;
		for (uint64_t j = 0; j < 512; j++) {
			uint64_t pa = RAM_BASE + (i << 21) + (j << 12);
			l0[i][j] = (pa >> 12 << 10) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D;
		}
	}
	csr_write(satp, SATP_SV39 | ((uint64_t)root >> 12));
	__asm__ volatile ("sfence.vma" ::: "memory");
	uint64_t sum = run_in_mode(MODE_S, touch, ROUNDS);
	csr_write(satp, 0);
	printf("tlb: %lu page touches, checksum 0x%lx\n", PAGES * ROUNDS, sum);
	return 0;
}
