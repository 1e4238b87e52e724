/*
 * smp_ipi - four harts (run with -smp 4): inter-processor interrupts
 * through the CLINT msip registers, timer interrupts on secondary harts,
 * and LR/SC and AMOs on memory shared by all harts.
 *
 * Harts 1-3 park in WFI with mie.MSIE/MTIE and mstatus.MIE set; all their
 * work happens in the M-mode interrupt handler: on a software interrupt
 * they clear their msip, run the command hart 0 posted, count the
 * interrupt and bump a shared counter with an AMO; on a timer interrupt
 * they disarm mtimecmp and bump the counter. Hart 0 posts commands, sends
 * IPIs, waits for the counter and, alone, prints. It sends the first IPIs
 * one at a time and waits for each, so the arrival order is deterministic;
 * after a broadcast only the set of harts is checked. Nothing printed
 * depends on timing.
 *
 * With fewer than 4 harts in the device tree (no -smp 4) it prints a line
 * saying so and exits 0 without checking anything.
 */
#include "guest.h"

#define NHARTS 4
#define INTR(n) (CAUSE_INTR | (n))
#define MIP_MSIP (1UL << IRQ_M_SOFT)
#define MIP_MTIP (1UL << IRQ_M_TIMER)
#define LOCK_ITERS 5000 /* per hart */

enum { CMD_NONE, CMD_PING, CMD_IPI_HART0, CMD_ARM_TIMER, CMD_COUNT };

static volatile uint64_t ready;     /* secondaries parked */
static volatile uint64_t done;      /* commands and timer interrupts finished */
static volatile uint64_t slot;      /* next free index in order[] */
static volatile uint64_t order[MAX_HARTS];
static volatile uint64_t seen;      /* bit per hart, AMO-ORed */
static volatile uint64_t cmd;
static volatile uint64_t ipis[MAX_HARTS], timers[MAX_HARTS], unexpected[MAX_HARTS];
static volatile uint64_t msip_after[MAX_HARTS], mip_msip_after[MAX_HARTS];
static volatile uint64_t timer_cause[MAX_HARTS], timer_late[MAX_HARTS], mtip_after[MAX_HARTS];

static volatile uint32_t lock;      /* LR/SC spinlock */
static volatile uint64_t inside, overlaps;
static volatile uint64_t locked_counter, lrsc_counter, amo_counter;

static inline void fence_all(void)
{
	__asm__ volatile ("fence iorw, iorw" ::: "memory");
}

static inline uint64_t amo_add(volatile uint64_t *p, uint64_t v)
{
	uint64_t old;
	__asm__ volatile ("amoadd.d.aqrl %0, %2, (%1)" : "=r"(old) : "r"(p), "r"(v) : "memory");
	return old;
}

static inline void amo_or(volatile uint64_t *p, uint64_t v)
{
	__asm__ volatile ("amoor.d.aqrl zero, %1, (%0)" :: "r"(p), "r"(v) : "memory");
}

static void spin_lock(volatile uint32_t *l)
{
	uint32_t tmp;
	__asm__ volatile (
		"1:	lr.w.aq	%0, (%1)\n"
		"	bnez	%0, 1b\n"
		"	sc.w	%0, %2, (%1)\n"
		"	bnez	%0, 1b\n"
		: "=&r"(tmp) : "r"(l), "r"(1) : "memory");
}

static void spin_unlock(volatile uint32_t *l)
{
	__asm__ volatile ("amoswap.w.rl zero, zero, (%0)" :: "r"(l) : "memory");
}

static void lrsc_inc(volatile uint64_t *p)
{
	uint64_t v, fail;
	__asm__ volatile (
		"1:	lr.d	%0, (%2)\n"
		"	addi	%0, %0, 1\n"
		"	sc.d	%1, %0, (%2)\n"
		"	bnez	%1, 1b\n"
		: "=&r"(v), "=&r"(fail) : "r"(p) : "memory");
}

/* Each hart: LOCK_ITERS increments of a plain counter under the spinlock
 * (a load, a delay, a store: lost updates if the lock failed), of a
 * counter through an lr.d/sc.d loop, and of one through amoadd. */
static void count_work(void)
{
	for (int i = 0; i < LOCK_ITERS; i++) {
		spin_lock(&lock);
		if (amo_add(&inside, 1) != 0)
			amo_add(&overlaps, 1);
		uint64_t v = locked_counter;
		for (volatile int d = 0; d < 2; d++)
			;
		locked_counter = v + 1;
		amo_add(&inside, -1UL);
		spin_unlock(&lock);
		lrsc_inc(&lrsc_counter);
		amo_add(&amo_counter, 1);
	}
}

/* ---- secondary harts ---------------------------------------------------- */
static void handler(struct trap_frame *f)
{
	uint64_t h = csr_read(mhartid);
	fence_all();
	if (f->cause == INTR(IRQ_M_SOFT)) {
		mmio_write32(CLINT_MSIP(h), 0);
		msip_after[h] = mmio_read32(CLINT_MSIP(h));
		mip_msip_after[h] = csr_read(mip) & MIP_MSIP;
		ipis[h]++;
		switch (cmd) {
		case CMD_PING:
			order[amo_add(&slot, 1) & (MAX_HARTS - 1)] = h;
			amo_or(&seen, 1UL << h);
			break;
		case CMD_IPI_HART0:
			fence_all();
			mmio_write32(CLINT_MSIP(0), 1);
			break;
		case CMD_ARM_TIMER:
			mmio_write64(CLINT_MTIMECMP(h), mtime_read() + 2000);
			break;
		case CMD_COUNT:
			count_work();
			break;
		}
	} else if (f->cause == INTR(IRQ_M_TIMER)) {
		timer_late[h] = mtime_read() >= mmio_read64(CLINT_MTIMECMP(h));
		mmio_write64(CLINT_MTIMECMP(h), ~0UL);
		mtip_after[h] = csr_read(mip) & MIP_MTIP;
		timer_cause[h] = f->cause;
		timers[h]++;
	} else {
		unexpected[h] = f->cause;
		if (!(f->cause & CAUSE_INTR))
			trap_skip(f);
	}
	fence_all();
	amo_add(&done, 1);
}

void secondary_main(unsigned long hartid, void *dtb)
{
	if (hartid < NHARTS) {
		mmio_write64(CLINT_MTIMECMP(hartid), ~0UL);
		csr_write(mie, MIP_MSIP | MIP_MTIP);
		fence_all();
		amo_add(&ready, 1);
		csr_set(mstatus, MSTATUS_MIE);
	}
	for (;;)
		__asm__ volatile ("wfi");
}

/* ---- hart 0 ------------------------------------------------------------- */
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Number of /cpus/cpu@N nodes in the flattened device tree. */
static int count_cpus(const uint8_t *fdt)
{
	if (!fdt || be32(fdt) != 0xd00dfeed)
		return 0;
	const uint8_t *p = fdt + be32(fdt + 8);
	int depth = 0, in_cpus = 0, n = 0;
	for (;;) {
		uint32_t tok = be32(p);
		p += 4;
		if (tok == 1) { /* FDT_BEGIN_NODE */
			const char *name = (const char *)p;
			p += (strlen(name) + 4) & ~3UL;
			depth++;
			if (depth == 2 && strlen(name) == 4 && !memcmp(name, "cpus", 4))
				in_cpus = 1;
			else if (in_cpus && depth == 3 && !memcmp(name, "cpu@", 4))
				n++;
		} else if (tok == 2) { /* FDT_END_NODE */
			if (depth == 2)
				in_cpus = 0;
			depth--;
		} else if (tok == 3) { /* FDT_PROP */
			p += 8 + ((be32(p) + 3) & ~3U);
		} else if (tok != 4) { /* FDT_END or garbage */
			break;
		}
	}
	return n;
}

/* Waits (at most ~5 s of mtime) until *p == want; returns *p. */
static uint64_t wait_for(volatile uint64_t *p, uint64_t want)
{
	uint64_t deadline = mtime_read() + 5 * MTIME_HZ;
	while (*p != want) {
		for (int i = 0; i < 64 && *p != want; i++)
			__asm__ volatile ("nop");
		if (mtime_read() > deadline)
			break;
	}
	fence_all();
	return *p;
}

static void post(uint64_t c)
{
	cmd = c;
	done = 0;
	fence_all();
}

static void ipi(unsigned h)
{
	fence_all();
	mmio_write32(CLINT_MSIP(h), 1);
}

static void one_at_a_time(void)
{
	static const char *const nth[] = {
		"first woken: hart 1", "second woken: hart 2", "third woken: hart 3",
	};
	static const char *const msgs[NHARTS][4] = {
		{ 0 },
		{ "hart 1: 1 IPI taken", "hart 1: cleared its msip", "hart 1: then mip.MSIP = 0",
		  "hart 1: msip reads 0 from hart 0" },
		{ "hart 2: 1 IPI taken", "hart 2: cleared its msip", "hart 2: then mip.MSIP = 0",
		  "hart 2: msip reads 0 from hart 0" },
		{ "hart 3: 1 IPI taken", "hart 3: cleared its msip", "hart 3: then mip.MSIP = 0",
		  "hart 3: msip reads 0 from hart 0" },
	};
	post(CMD_PING);
	for (unsigned h = 1; h < NHARTS; h++) {
		ipi(h);
		wait_for(&done, h);
	}
	check("3 IPIs, one at a time: 3 handled", done, 3);
	check("slot counter (amoadd) = 3", slot, 3);
	for (unsigned i = 0; i < NHARTS - 1; i++)
		check(nth[i], order[i], i + 1);
	for (unsigned h = 1; h < NHARTS; h++) {
		check(msgs[h][0], ipis[h], 1);
		check(msgs[h][1], msip_after[h], 0);
		check(msgs[h][2], mip_msip_after[h], 0);
		check(msgs[h][3], mmio_read32(CLINT_MSIP(h)), 0);
	}
	check("hart 0: mip.MSIP never set", csr_read(mip) & MIP_MSIP, 0);
}

static void broadcast(void)
{
	slot = 0;
	seen = 0;
	post(CMD_PING);
	for (unsigned h = 1; h < NHARTS; h++)
		ipi(h);
	wait_for(&done, 3);
	check("broadcast IPI: 3 handled", done, 3);
	check("broadcast IPI: harts seen (amoor) = 1,2,3", seen, 0xe);
	check("broadcast IPI: slot counter = 3", slot, 3);
	check("hart 1: 2 IPIs taken", ipis[1], 2);
	check("hart 2: 2 IPIs taken", ipis[2], 2);
	check("hart 3: 2 IPIs taken", ipis[3], 2);
}

static void ipi_to_hart0(void)
{
	csr_write(mie, MIP_MSIP); /* mstatus.MIE stays 0: WFI wakes, no trap */
	post(CMD_IPI_HART0);
	ipi(2);
	uint64_t deadline = mtime_read() + 5 * MTIME_HZ;
	while (!(csr_read(mip) & MIP_MSIP) && mtime_read() < deadline)
		__asm__ volatile ("wfi");
	check("IPI from hart 2 wakes hart 0 from WFI: mip.MSIP", csr_read(mip) & MIP_MSIP, MIP_MSIP);
	check("hart 0 msip reads 1", mmio_read32(CLINT_MSIP(0)), 1);
	mmio_write32(CLINT_MSIP(0), 0);
	check("hart 0 cleared its msip: mip.MSIP = 0", csr_read(mip) & MIP_MSIP, 0);
	wait_for(&done, 1);
	check("hart 2 finished", done, 1);
	check("hart 2: 3 IPIs taken", ipis[2], 3);
	csr_write(mie, 0);
}

static void timers_on_secondaries(void)
{
	/* hart 0 arms hart 2's comparator */
	post(CMD_NONE);
	mmio_write64(CLINT_MTIMECMP(2), mtime_read() + 5000);
	wait_for(&done, 1);
	check("mtimecmp[2] set by hart 0: 1 interrupt", done, 1);
	check("hart 2: timer interrupts", timers[2], 1);
	check("hart 2: mcause = M timer interrupt", timer_cause[2], INTR(IRQ_M_TIMER));
	check("hart 2: mtime >= mtimecmp in the handler", timer_late[2], 1);
	check("hart 2: mip.MTIP clear after mtimecmp = -1", mtip_after[2], 0);
	check("hart 2: mtimecmp reads back -1", mmio_read64(CLINT_MTIMECMP(2)), ~0UL);
	check("hart 1: no timer interrupt", timers[1], 0);
	check("hart 3: no timer interrupt", timers[3], 0);
	check("hart 0: mip.MTIP clear", csr_read(mip) & MIP_MTIP, 0);

	/* hart 3 arms its own comparator when told so by an IPI */
	post(CMD_ARM_TIMER);
	ipi(3);
	wait_for(&done, 2);
	check("hart 3 armed its own timer: IPI + timer interrupt", done, 2);
	check("hart 3: timer interrupts", timers[3], 1);
	check("hart 3: mcause = M timer interrupt", timer_cause[3], INTR(IRQ_M_TIMER));
	check("hart 3: mtime >= mtimecmp in the handler", timer_late[3], 1);
	check("hart 3: mip.MTIP clear after mtimecmp = -1", mtip_after[3], 0);
	check("hart 2: still 1 timer interrupt", timers[2], 1);
}

static void shared_counters(void)
{
	post(CMD_COUNT);
	for (unsigned h = 1; h < NHARTS; h++)
		ipi(h);
	count_work();
	wait_for(&done, 3);
	check("4 harts counted", done, 3);
	check("spinlock (lr.w/sc.w): counter exact", locked_counter, NHARTS * LOCK_ITERS);
	check("spinlock: never held twice", overlaps, 0);
	check("spinlock: free at the end", lock, 0);
	check("lr.d/sc.d increments: counter exact", lrsc_counter, NHARTS * LOCK_ITERS);
	check("amoadd.d increments: counter exact", amo_counter, NHARTS * LOCK_ITERS);
}

int main(unsigned long hartid, void *dtb)
{
	printf("# smp_ipi\n");
	int n = count_cpus(dtb);
	if (n < NHARTS) {
		printf("needs %d harts (-smp %d), found %d: nothing checked\n", NHARTS, NHARTS, n);
		return 0;
	}
	m_trap_handler = handler;
	mmio_write64(CLINT_MTIMECMP(0), ~0UL);
	check("harts 1-3 parked", wait_for(&ready, NHARTS - 1), NHARTS - 1);
	one_at_a_time();
	broadcast();
	ipi_to_hart0();
	timers_on_secondaries();
	shared_counters();
	check("hart 1: no unexpected trap", unexpected[1], 0);
	check("hart 2: no unexpected trap", unexpected[2], 0);
	check("hart 3: no unexpected trap", unexpected[3], 0);
	return check_summary();
}
