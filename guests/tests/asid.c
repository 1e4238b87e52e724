/*
 * asid - address-space identifiers and precise sfence.vma (privileged spec
 * 1.12, 4.1.11 and 4.2.1), checking only what the spec guarantees:
 *
 *  - satp.ASID is writable (16 bits here, as on QEMU);
 *  - two Sv39 address spaces (ASID 1 and 2) map the same VAs to different
 *    pages; switching satp back and forth without a fence shows each space
 *    its own data, for loads, stores and instruction fetch; so do Bare <->
 *    Sv39 switches and M-mode loads through MPRV;
 *  - after a PTE changes, sfence.vma with an address (and an ASID, or x0),
 *    or with an ASID alone, makes the new mapping visible, and pages the
 *    fence did not name still translate as before; a fence for an ASID
 *    nobody uses breaks nothing;
 *  - a 2 MiB superpage remapped and fenced by one address inside it is seen
 *    remapped at every offset (the fence drops every translation cached from
 *    that leaf PTE), for loads and stores;
 *  - a global page (PTE.G) shared by both spaces, remapped in both and fenced
 *    for all ASIDs;
 *  - 40 ASIDs in turn (more than an implementation may keep apart), each
 *    always with the same root, see their own root's mapping; 64 new ASIDs,
 *    each used after ASID 1 with another root, never see ASID 1's mapping.
 *
 * What a stale translation does before its fence is left alone (the spec
 * lets it survive or not; QEMU drops it on every satp change), and so is
 * whether an ASID-specific fence drops global entries.
 * The code runs identity-mapped (a global gigapage at 0x80000000).
 */
#include "guest.h"

#define PTE_V (1UL << 0)
#define PTE_R (1UL << 1)
#define PTE_W (1UL << 2)
#define PTE_X (1UL << 3)
#define PTE_G (1UL << 5)
#define PTE_A (1UL << 6)
#define PTE_D (1UL << 7)
#define AD (PTE_A | PTE_D)
#define RW (PTE_R | PTE_W | AD)
#define SATP_SV39 (8UL << 60)
#define ASID(a) ((uint64_t)(a) << 44)

#define PTE(pa, flags) ((((uint64_t)(pa)) >> 12) << 10 | (flags) | PTE_V)
#define TABLE(t) PTE(t, 0)

#define PG 4096
typedef uint64_t table_t[512] __attribute__((aligned(PG)));

static table_t rootA, rootB, l1A, l1B, l0A, l0B;
/* data pages: X, Y, Z in each space, remap targets, the global page */
static table_t pAX, pAY, pAX2, pAY2, pBX, pBY, pBZ, pBX2, pBY2, pBZ2, pG, pG2;
static table_t codeA, codeB;

#define VA_X   0x40000000UL	/* l0[0] */
#define VA_Y   0x40001000UL	/* l0[1] */
#define VA_G   0x40002000UL	/* l0[2]: global, same page in both spaces */
#define VA_F   0x40003000UL	/* l0[3]: code, returns 0xa in A, 0xb in B */
#define VA_Z   0x40004000UL	/* l0[4] */
#define VA_S   0x40200000UL	/* l1[1]: 2 MiB superpage (A only) */
#define SP_1   (RAM_BASE + 0x2000000UL)	/* its two possible targets */
#define SP_2   (RAM_BASE + 0x2200000UL)

#define M_AX  0xa0a0a0a0a0a0a0a0UL
#define M_AY  0xa1a1a1a1a1a1a1a1UL
#define M_AX2 0xa2a2a2a2a2a2a2a2UL
#define M_AY2 0xa3a3a3a3a3a3a3a3UL
#define M_BX  0xb0b0b0b0b0b0b0b0UL
#define M_BY  0xb1b1b1b1b1b1b1b1UL
#define M_BX2 0xb2b2b2b2b2b2b2b2UL
#define M_BY2 0xb3b3b3b3b3b3b3b3UL
#define M_BZ  0xb4b4b4b4b4b4b4b4UL
#define M_BZ2 0xb5b5b5b5b5b5b5b5UL
#define M_G   0x6060606060606060UL
#define M_G2  0x6161616161616161UL

static uint64_t satpA, satpB;
static volatile uint64_t res[16];

static inline uint64_t ld(uint64_t va)
{
	return *(volatile uint64_t *)va;
}

static inline void st(uint64_t va, uint64_t v)
{
	*(volatile uint64_t *)va = v;
}

/* PTE updates are volatile: the compiler must not move them across the
 * (volatile) accesses that still use the old mapping. */
static inline void set_pte(uint64_t *pte, uint64_t v)
{
	*(volatile uint64_t *)pte = v;
}

static inline uint64_t call(uint64_t va)
{
	return ((uint64_t (*)(void))va)();
}

static inline void sfence_va_asid(uint64_t va, uint64_t asid)
{
	__asm__ volatile ("sfence.vma %0, %1" :: "r"(va), "r"(asid) : "memory");
}

static inline void sfence_va(uint64_t va)
{
	__asm__ volatile ("sfence.vma %0, zero" :: "r"(va) : "memory");
}

static inline void sfence_asid(uint64_t asid)
{
	__asm__ volatile ("sfence.vma zero, %0" :: "r"(asid) : "memory");
}

static void sfence_all(void)
{
	__asm__ volatile ("sfence.vma" ::: "memory");
}

static void m_handler(struct trap_frame *f)
{
	printf("unexpected M-mode trap: mcause=0x%lx mepc=0x%lx mtval=0x%lx\n", f->cause, f->epc, f->tval);
	exit(99);
}

static void space(table_t root, table_t l1, table_t l0, table_t x, table_t y, table_t code)
{
	root[1] = TABLE(l1);
	root[2] = PTE(RAM_BASE, PTE_R | PTE_W | PTE_X | PTE_G | AD);	/* identity RAM */
	l1[0] = TABLE(l0);
	l0[0] = PTE(x, RW);
	l0[1] = PTE(y, RW);
	l0[2] = PTE(pG, RW | PTE_G);
	l0[3] = PTE(code, PTE_R | PTE_X | PTE_A);
}

static void setup(void)
{
	pAX[0] = M_AX; pAY[0] = M_AY; pAX2[0] = M_AX2; pAY2[0] = M_AY2;
	pBX[0] = M_BX; pBY[0] = M_BY; pBX2[0] = M_BX2; pBY2[0] = M_BY2;
	pBZ[0] = M_BZ; pBZ2[0] = M_BZ2; pG[0] = M_G; pG2[0] = M_G2;
	codeA[0] = 0x0000806700a00513UL;	/* li a0, 0xa ; ret */
	codeB[0] = 0x0000806700b00513UL;	/* li a0, 0xb ; ret */
	__asm__ volatile ("fence.i" ::: "memory");

	space(rootA, l1A, l0A, pAX, pAY, codeA);
	space(rootB, l1B, l0B, pBX, pBY, codeB);
	l0B[4] = PTE(pBZ, RW);
	l1A[1] = PTE(SP_1, RW);			/* 2 MiB */
	for (uint64_t off = 0; off < 0x200000UL; off += 0x1000UL) {
		st(SP_1 + off, 0x5100000000000000UL | off);
		st(SP_2 + off, 0x5200000000000000UL | off);
		st(SP_1 + off + 8, 0);
		st(SP_2 + off + 8, 0);
	}
	satpA = SATP_SV39 | ASID(1) | ((uint64_t)rootA >> 12);
	satpB = SATP_SV39 | ASID(2) | ((uint64_t)rootB >> 12);
}

/* --- S-mode parts ------------------------------------------------------ */

/* A and B in turn, no fence: loads, stores, fetches; returns mismatches. */
static uint64_t s_switch(uint64_t rounds)
{
	uint64_t bad = 0;
	for (uint64_t r = 0; r < rounds; r++) {
		csr_write(satp, satpA);
		bad += ld(VA_X) != M_AX;
		st(VA_X + 8, 2 * r);
		bad += call(VA_F) != 0xa;
		csr_write(satp, satpB);
		bad += ld(VA_X) != M_BX;
		bad += ld(VA_X + 8) != (r ? 2 * r - 1 : 0);
		st(VA_X + 8, 2 * r + 1);
		bad += call(VA_F) != 0xb;
		csr_write(satp, satpA);
		bad += ld(VA_X + 8) != 2 * r;
		bad += ld(VA_Y) != M_AY;
		csr_write(satp, satpB);
		bad += ld(VA_Y) != M_BY;
	}
	return bad;
}

/* Bare <-> Sv39 without a fence. */
static uint64_t s_bare(uint64_t rounds)
{
	uint64_t bad = 0;
	for (uint64_t r = 0; r < rounds; r++) {
		csr_write(satp, 0);
		bad += ld((uint64_t)pBX) != M_BX;
		csr_write(satp, satpA);
		bad += ld(VA_X) != M_AX;
		bad += ld((uint64_t)pBX) != M_BX;	/* identity gigapage */
		csr_write(satp, 0);
		bad += ld((uint64_t)pAY) != M_AY;
		csr_write(satp, satpB);
		bad += ld(VA_X) != M_BX;
	}
	return bad;
}

/* Fill both spaces' translations of X, Y (and Z in B). */
static void touch_all(void)
{
	csr_write(satp, satpA);
	(void)ld(VA_X);
	(void)ld(VA_Y);
	csr_write(satp, satpB);
	(void)ld(VA_X);
	(void)ld(VA_Y);
	(void)ld(VA_Z);
}

/* Remap A's X, fence that page for ASID 1 only. */
static uint64_t s_fence_va_asid(uint64_t unused)
{
	touch_all();
	csr_write(satp, satpA);
	set_pte(&l0A[0], PTE(pAX2, RW));
	sfence_va_asid(VA_X, 1);
	res[0] = ld(VA_X);
	res[1] = ld(VA_Y);
	csr_write(satp, satpB);
	res[2] = ld(VA_X);
	res[3] = ld(VA_Y);
	return 0;
}

/* Remap Y in both spaces, one fence for all ASIDs (from A). */
static uint64_t s_fence_va(uint64_t unused)
{
	touch_all();
	csr_write(satp, satpA);
	set_pte(&l0A[1], PTE(pAY2, RW));
	set_pte(&l0B[1], PTE(pBY2, RW));
	sfence_va(VA_Y);
	res[0] = ld(VA_Y);
	res[1] = ld(VA_X);
	csr_write(satp, satpB);
	res[2] = ld(VA_Y);
	res[3] = ld(VA_X);
	return 0;
}

/* Remap X and Z in B, fence ASID 2 as a whole (from A). */
static uint64_t s_fence_asid(uint64_t unused)
{
	touch_all();
	csr_write(satp, satpA);
	set_pte(&l0B[0], PTE(pBX2, RW));
	set_pte(&l0B[4], PTE(pBZ2, RW));
	sfence_asid(2);
	res[0] = ld(VA_X);
	csr_write(satp, satpB);
	res[1] = ld(VA_X);
	res[2] = ld(VA_Z);
	res[3] = ld(VA_Y);
	/* fences for an ASID nobody uses, and for page 0, break nothing */
	sfence_va_asid(VA_X, 0x1234);
	sfence_asid(0x777);
	sfence_va_asid(0, 2);
	res[4] = ld(VA_X);
	csr_write(satp, satpA);
	res[5] = ld(VA_X);
	return 0;
}

/* A 2 MiB superpage, remapped and fenced through one address inside it. */
static uint64_t s_superpage(uint64_t unused)
{
	csr_write(satp, satpA);
	res[0] = ld(VA_S);
	res[1] = ld(VA_S + 0x1000);
	res[2] = ld(VA_S + 0x1ff000);
	st(VA_S + 0x7008, 1);
	(void)ld(VA_S + 0x5000);
	set_pte(&l1A[1], PTE(SP_2, RW));
	sfence_va_asid(VA_S + 0x5000, 1);
	res[3] = ld(VA_S);
	res[4] = ld(VA_S + 0x1000);
	res[5] = ld(VA_S + 0x1ff000);
	res[6] = ld(VA_S + 0x5000);
	st(VA_S + 0x7008, 2);
	/* back, fenced for all ASIDs at the superpage's last page */
	set_pte(&l1A[1], PTE(SP_1, RW));
	sfence_va(VA_S + 0x1ff000);
	res[7] = ld(VA_S + 0x1000);
	res[8] = ld(VA_S + 0x7008);
	return 0;
}

/* The global page: the same in both spaces, then remapped in both. */
static uint64_t s_global(uint64_t unused)
{
	csr_write(satp, satpA);
	res[0] = ld(VA_G);
	st(VA_G + 8, 77);
	csr_write(satp, satpB);
	res[1] = ld(VA_G);
	res[2] = ld(VA_G + 8);
	st(VA_G + 8, 78);
	csr_write(satp, satpA);
	res[3] = ld(VA_G + 8);
	set_pte(&l0A[2], PTE(pG2, RW | PTE_G));
	set_pte(&l0B[2], PTE(pG2, RW | PTE_G));
	sfence_va(VA_G);
	res[4] = ld(VA_G);
	csr_write(satp, satpB);
	res[5] = ld(VA_G);
	return 0;
}

/* ASIDs 1..40, odd ones with A's root, even ones with B's, no fences. */
static uint64_t s_many(uint64_t rounds)
{
	uint64_t bad = 0;
	for (uint64_t r = 0; r < rounds; r++) {
		for (uint64_t k = 1; k <= 40; k++) {
			uint64_t root = (k & 1) ? (uint64_t)rootA : (uint64_t)rootB;
			csr_write(satp, SATP_SV39 | ASID(k) | (root >> 12));
			bad += ld(VA_X) != ((k & 1) ? M_AX2 : M_BX2);
			bad += ld(VA_Y) != ((k & 1) ? M_AY2 : M_BY2);
			bad += call(VA_F) != ((k & 1) ? 0xa : 0xb);
			bad += ld(VA_G) != M_G2;
		}
	}
	return bad;
}

/*
 * ASID 1 (A's root) and each time a new ASID (B's root) in turn, no fences:
 * a new address space never sees another one's translations, however many
 * have come and gone.
 */
static uint64_t s_fresh(uint64_t count)
{
	uint64_t bad = 0;
	for (uint64_t k = 100; k < 100 + count; k++) {
		csr_write(satp, satpA);
		bad += ld(VA_X) != M_AX2;
		csr_write(satp, SATP_SV39 | ASID(k) | ((uint64_t)rootB >> 12));
		bad += ld(VA_X) != M_BX2;
		bad += call(VA_F) != 0xb;
	}
	return bad;
}

/* --- M-mode ------------------------------------------------------------ */

static uint64_t mprv_load(uint64_t va)
{
	uint64_t v;
	__asm__ volatile ("csrs mstatus, %1\n\tld %0, 0(%2)\n\tcsrc mstatus, %1"
			  : "=&r"(v) : "r"(MSTATUS_MPRV), "r"(va) : "memory");
	return v;
}

static void mprv(void)
{
	uint64_t bad = 0;
	csr_clear(mstatus, MSTATUS_MPP);
	csr_set(mstatus, (uint64_t)MODE_S << 11);
	for (int r = 0; r < 4; r++) {
		csr_write(satp, satpA);
		bad += mprv_load(VA_X) != M_AX;
		csr_write(satp, satpB);
		bad += mprv_load(VA_X) != M_BX;
		bad += ld((uint64_t)pAX) != M_AX;	/* M itself: untranslated */
		csr_write(satp, 0);
		bad += mprv_load((uint64_t)pAY) != M_AY;
	}
	check("MPRV loads follow satp's ASID, no fence", bad, 0);
	csr_clear(mstatus, MSTATUS_MPP);
}

int main(unsigned long hartid, void *dtb)
{
	printf("# asid\n");
	m_trap_handler = m_handler;
	setup();

	uint64_t v = SATP_SV39 | ASID(0xffff) | ((uint64_t)rootA >> 12);
	csr_write(satp, v);
	check("satp ASID writable (16 bits)", csr_read(satp), v);
	csr_write(satp, satpA);
	check("satp ASID 1", csr_read(satp), satpA);
	sfence_all();

	check("A <-> B without fence: loads, stores, fetches", run_in_mode(MODE_S, s_switch, 8), 0);
	check("stores landed in A's page", pAX[1], 14);
	check("stores landed in B's page", pBX[1], 15);
	check("Bare <-> Sv39 without fence", run_in_mode(MODE_S, s_bare, 4), 0);
	mprv();

	run_in_mode(MODE_S, s_fence_va_asid, 0);
	check("sfence va,asid: A sees the new page", res[0], M_AX2);
	check("sfence va,asid: A's other page", res[1], M_AY);
	check("sfence va,asid: B unchanged", res[2], M_BX);
	check("sfence va,asid: B's other page", res[3], M_BY);

	run_in_mode(MODE_S, s_fence_va, 0);
	check("sfence va,x0: A sees the new page", res[0], M_AY2);
	check("sfence va,x0: A's other page", res[1], M_AX2);
	check("sfence va,x0: B sees the new page", res[2], M_BY2);
	check("sfence va,x0: B's other page", res[3], M_BX);

	run_in_mode(MODE_S, s_fence_asid, 0);
	check("sfence x0,asid: A untouched", res[0], M_AX2);
	check("sfence x0,asid: B's first page", res[1], M_BX2);
	check("sfence x0,asid: B's second page", res[2], M_BZ2);
	check("sfence x0,asid: B's unchanged page", res[3], M_BY2);
	check("fences for unused ASIDs: B", res[4], M_BX2);
	check("fences for unused ASIDs: A", res[5], M_AX2);

	run_in_mode(MODE_S, s_superpage, 0);
	check("superpage +0", res[0], 0x5100000000000000UL);
	check("superpage +1000", res[1], 0x5100000000001000UL);
	check("superpage +1ff000", res[2], 0x51000000001ff000UL);
	check("superpage remapped, fenced at +5000: +0", res[3], 0x5200000000000000UL);
	check("superpage remapped: +1000", res[4], 0x5200000000001000UL);
	check("superpage remapped: +1ff000", res[5], 0x52000000001ff000UL);
	check("superpage remapped: +5000", res[6], 0x5200000000005000UL);
	check("superpage store before the remap", ld(SP_1 + 0x7008), 1);
	check("superpage store after the remap", ld(SP_2 + 0x7008), 2);
	check("superpage back, fenced at +1ff000: +1000", res[7], 0x5100000000001000UL);
	check("superpage back: store seen", res[8], 1);

	run_in_mode(MODE_S, s_global, 0);
	check("global page in A", res[0], M_G);
	check("global page in B", res[1], M_G);
	check("global page: A's store seen in B", res[2], 77);
	check("global page: B's store seen in A", res[3], 78);
	check("global page remapped, fenced for all: A", res[4], M_G2);
	check("global page remapped, fenced for all: B", res[5], M_G2);

	check("40 ASIDs in turn, 3 rounds", run_in_mode(MODE_S, s_many, 3), 0);
	check("64 new ASIDs, each after ASID 1", run_in_mode(MODE_S, s_fresh, 64), 0);

	csr_write(satp, 0);
	sfence_all();
	return check_summary();
}
