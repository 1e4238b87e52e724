/*
 * ctxsw - address-space switching and page-granular fences (a measurement
 * guest, not a test). M-mode builds 8 Sv39 address spaces (ASIDs 1..8), each
 * mapping its own 32 pages at its own VAs (space i: VA 0x40000000 + (32 i + j)
 * pages) plus a global identity gigapage for code/data. S-mode then, ROUNDS
 * times: switches satp to each space in turn without a fence and touches its
 * 32 pages (load + store each), and in each space remaps one page to a twin
 * page and fences only that page for that ASID (sfence.vma va, asid), as a
 * kernel does on a copy-on-write fault.
 */
#include "guest.h"

#define SPACES 8
#define PAGES 32
#define ROUNDS 4000UL
#define VA_BASE 0x40000000UL
#define DATA (RAM_BASE + (16UL << 20))
#define TWIN (RAM_BASE + (24UL << 20))
#define PTE_V 1UL
#define PTE_RW 6UL
#define PTE_X 8UL
#define PTE_G 0x20UL
#define PTE_AD 0xc0UL
#define SATP_SV39 (8UL << 60)

static uint64_t root[SPACES][512] __attribute__((aligned(4096)));
static uint64_t l1[SPACES][512] __attribute__((aligned(4096)));
static uint64_t l0[SPACES][512] __attribute__((aligned(4096)));
static uint64_t satps[SPACES];

#define PTE(pa, f) ((((uint64_t)(pa)) >> 12 << 10) | (f) | PTE_V)

static uint64_t work(uint64_t rounds)
{
	uint64_t sum = 0;
	for (uint64_t r = 0; r < rounds; r++) {
		for (int i = 0; i < SPACES; i++) {
			__asm__ volatile ("csrw satp, %0" :: "r"(satps[i]) : "memory");
			for (int j = 0; j < PAGES; j++) {
				volatile uint64_t *p = (volatile uint64_t *)(VA_BASE + ((uint64_t)(i * PAGES + j) << 12));
				sum += p[r & 7] + j + 1;
				p[(r + 1) & 7] = sum;
			}
			int j = r % PAGES;
			uint64_t va = VA_BASE + ((uint64_t)(i * PAGES + j) << 12);
			uint64_t pa = ((r / PAGES) & 1 ? TWIN : DATA) + ((uint64_t)(i * PAGES + j) << 12);
			*(volatile uint64_t *)&l0[i][i * PAGES + j] = PTE(pa, PTE_RW | PTE_AD);
			__asm__ volatile ("sfence.vma %0, %1" :: "r"(va), "r"(i + 1) : "memory");
		}
	}
	return sum;
}

int main(unsigned long hartid, void *dtb)
{
	for (int i = 0; i < SPACES; i++) {
		root[i][2] = PTE(RAM_BASE, PTE_RW | PTE_X | PTE_G | PTE_AD);
		root[i][1] = PTE(l1[i], 0);
		l1[i][0] = PTE(l0[i], 0);
		for (int j = 0; j < PAGES; j++)
			l0[i][i * PAGES + j] = PTE(DATA + ((uint64_t)(i * PAGES + j) << 12), PTE_RW | PTE_AD);
		satps[i] = SATP_SV39 | ((uint64_t)(i + 1) << 44) | ((uint64_t)root[i] >> 12);
	}
	__asm__ volatile ("sfence.vma" ::: "memory");
	uint64_t sum = run_in_mode(MODE_S, work, ROUNDS);
	__asm__ volatile ("csrw satp, zero" ::: "memory");
	printf("ctxsw: %lu switches, checksum 0x%lx\n", ROUNDS * SPACES, sum);
	return 0;
}
