/*
 * isolation - a guest that tries to reach what is not its own, for hv's
 * isolation tests (run with -m 64M). Every attempt must end in the right
 * architectural fault, never in data from outside the partition and never in
 * a host error:
 *  - loads and stores past the end of RAM, below RAM (where hv keeps its own
 *    memory at host address 0), at huge addresses, and at holes of the board;
 *  - a page table whose entry points back at itself (a walk loop);
 *  - a flood of faulting MMIO accesses.
 * The output is hv-specific (QEMU's virt board has a ROM and PCIe windows
 * where hv has holes), so it is not compared with QEMU.
 */
#include "guest.h"

static volatile uint64_t faults, last_cause, last_tval;

static void skip(struct trap_frame *f)
{
	faults++;
	last_cause = f->cause;
	last_tval = f->tval;
	trap_skip(f);
}

static uint64_t try_load(uint64_t addr)
{
	last_cause = ~0UL;
	uint64_t v = 0x1234;
	__asm__ volatile ("ld %0, 0(%1)" : "+r"(v) : "r"(addr) : "memory");
	return v;
}

static void try_store(uint64_t addr)
{
	last_cause = ~0UL;
	__asm__ volatile ("sd %0, 0(%1)" :: "r"(0xdeadbeefUL), "r"(addr) : "memory");
}

static uint64_t root[512] __attribute__((aligned(4096)));

static uint64_t s_load(uint64_t va)
{
	return try_load(va);
}

int main(unsigned long hartid, void *dtb)
{
	static const uint64_t outside[] = {
		RAM_BASE + (64UL << 20),        /* just past RAM */
		RAM_BASE + (64UL << 20) + 0x1000000,
		0x0,                            /* host address 0: hv's kernel data */
		0x00200000,                     /* hv's vCPU array, as a host address */
		0x01200000,                     /* hv's frame pool, as a host address */
		0x40000000,                     /* a hole in the board map */
		0x7ffff000,                     /* just below RAM */
		0x100000000UL,                  /* beyond 4 GiB */
		0xfffffffffffff000UL,           /* the top of the address space */
	};
	m_trap_handler = skip;
	for (unsigned i = 0; i < sizeof outside / sizeof outside[0]; i++) {
		uint64_t v = try_load(outside[i]);
		check("load outside the partition faults", last_cause, EXC_LOAD_ACCESS);
		check("  ...and returns nothing", v, 0x1234);
		check("  ...with mtval = the address", last_tval, outside[i]);
		try_store(outside[i]);
		check("store outside the partition faults", last_cause, EXC_STORE_ACCESS);
	}

	/* A page-table loop: root[0] is a pointer to root itself. */
	root[0] = ((uint64_t)root >> 12 << 10) | 1;
	root[2] = (RAM_BASE >> 12 << 10) | 0xcf; /* 1 GiB identity leaf for the code */
	csr_write(satp, (8UL << 60) | ((uint64_t)root >> 12));
	__asm__ volatile ("sfence.vma" ::: "memory");
	uint64_t v = run_in_mode(MODE_S, s_load, 0x1000);
	check("a walk that loops through its own root ends in a page fault", last_cause, EXC_LOAD_PAGE_FAULT);
	check("  ...and returns nothing", v, 0x1234);
	csr_write(satp, 0);

	/* A flood of faulting device accesses. */
	uint64_t before = faults;
	for (int i = 0; i < 20000; i++) try_load(0x40000000);
	check("20000 faulting MMIO loads each trap once", faults - before, 20000);
	return check_summary();
}
