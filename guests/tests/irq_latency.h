/*
 * irq_latency.h - interrupt-driven virtio-blk reads and UART input, with the
 * hart idle between them in one of two ways (IDLE_WFI, set by the including
 * file): spinning with interrupts enabled and never executing WFI (as
 * xv6-riscv's scheduler does), or waiting in WFI. Every interrupt comes
 * through the PLIC to hart 0's M-mode context (MEIP).
 *
 * irq_spin.c and irq_wfi.c include this. Each does READS reads of sectors
 * 1..READS of the disk in the first virtio-blk slot it finds (any slot:
 * QEMU puts -device virtio-blk-device in the last one), checking each
 * sector's contents (byte i of sector s is (s * 37 + i) & 0xff, written by
 * the test), then INPUTS times prints "ready N", enables the UART receive
 * interrupt and waits, idle, for byte N of the input ('a', 'b', ...); the
 * handler takes one byte and disables it again (the next byte waits in the
 * UART, also when all the input came at once).
 *
 * The check lines ("ok N ...") do not depend on timing. Lines starting with
 * "latency" carry measurements, which differ between runs and hosts (the
 * tests compare every other line with guests/expected/NAME.out):
 *
 *   latency disk N: insns I ticks T     minstret and mtime from the
 *       QueueNotify store to the interrupt handler's first C statement
 *       (includes the trap entry: saving 32 registers, about 40 instructions)
 *   latency uart N: insns I ticks T seen S   from the last byte of "ready N"
 *       to the handler (this includes the host noticing the prompt and
 *       typing); S (spinning only): instructions between the first poll of
 *       the idle loop that saw mip.MEIP set and the handler, that is, how
 *       late the hart took an interrupt it could already see (-1: never seen
 *       pending before the trap)
 *
 * Nothing else is timed: no CLINT timer is armed, so an interrupt that were
 * only noticed at a timer tick would never be noticed, and the run would
 * not finish.
 */
#include "virtio_mmio.h"

#ifndef IDLE_WFI
#error "IDLE_WFI must be 0 (spin) or 1 (wfi)"
#endif

#define READS  4
#define INPUTS 2

/* ---- virtio-mmio (lib/virtio_mmio.h) ---------------------------------- */
static uint8_t buf[512] __attribute__((aligned(512)));
static unsigned virq;

/* ---- UART, PLIC ------------------------------------------------------------ */
#define UART_RBR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LSR 5
#define IER_RDI  0x01
#define LSR_DR   0x01
#define UART_IRQ 10

#define PLIC_BASE       0x0c000000UL
#define PLIC_PRIO(s)    (PLIC_BASE + 4UL * (s))
#define PLIC_ENABLE0(c) (PLIC_BASE + 0x2000UL + 0x80UL * (c))
#define PLIC_THRESH(c)  (PLIC_BASE + 0x200000UL + 0x1000UL * (c))
#define PLIC_CLAIM(c)   (PLIC_THRESH(c) + 4)
#define CTX_M0 0

#define MIP_MEIP (1UL << IRQ_M_EXT)

/* ---- what the handler saw -------------------------------------------------- */
static volatile unsigned disk_done, uart_count, other_irqs;
static volatile uint8_t uart_byte;
static volatile uint64_t irq_instret, irq_mtime;

static inline uint64_t instret(void) { return csr_read(minstret); }

static void handler(struct trap_frame *f)
{
	uint64_t i = instret(), t = mtime_read();
	if (f->cause != (CAUSE_INTR | IRQ_M_EXT)) {
		printf("unexpected trap mcause=0x%lx\n", f->cause);
		exit(97);
	}
	irq_instret = i;
	irq_mtime = t;
	uint32_t src;
	while ((src = mmio_read32(PLIC_CLAIM(CTX_M0))) != 0) {
		if (src == virq) {
			vwr(INTERRUPT_ACK, vrd(INTERRUPT_STATUS));
			disk_done++;
		} else if (src == UART_IRQ) {
			/* One byte per wait: the next waits in the UART until asked for. */
			if (mmio_read8(UART_BASE + UART_LSR) & LSR_DR) {
				uart_byte = mmio_read8(UART_BASE + UART_RBR);
				uart_count++;
			}
			mmio_write8(UART_BASE + UART_IER, 0);
		} else {
			other_irqs++;
		}
		mmio_write32(PLIC_CLAIM(CTX_M0), src);
	}
}

/*
 * Idles until *flag reaches want. Spinning: interrupts stay enabled and the
 * loop polls mip; *seen gets minstret at the first poll that found MEIP
 * pending (the interrupt could have been taken there already).
 */
static void idle_until(volatile unsigned *flag, unsigned want, uint64_t *seen)
{
	*seen = 0;
	while (*flag < want) {
#if IDLE_WFI
		__asm__ volatile ("wfi" ::: "memory");
#else
		/* minstret first: if the trap comes right after the mip read, seen < the handler's. */
		uint64_t i = instret();
		if (!*seen && (csr_read(mip) & MIP_MEIP))
			*seen = i;
#endif
	}
}

/* The disk's slot and its PLIC source (slot n: source 1 + n), or 0. */
static int find_blk(void)
{
	int slot = virtio_find_blk();
	if (slot < 0)
		return 0;
	virq = VIRTIO_IRQ0 + slot;
	return 1;
}

/* Modern (version 2) or legacy (version 1) bring-up, no optional features. */
static int blk_init(void)
{
	uint32_t none;
	return virtio_blk_init(0, &none);
}

/* Reads `sector` into buf, idle until the used-buffer interrupt. */
static void read_sector(unsigned n, uint64_t sector)
{
	virtio_blk_post(T_IN, sector, buf, sizeof(buf));
	unsigned want = disk_done + 1;
	uint64_t seen;
	uint64_t t0 = mtime_read();
	uint64_t i0 = instret();
	vwr(QUEUE_NOTIFY, 0);
	idle_until(&disk_done, want, &seen);
	printf("latency disk %u: insns %lu ticks %lu\n", n, irq_instret - i0, irq_mtime - t0);
	unsigned bad = 0;
	for (unsigned i = 0; i < sizeof(buf); i++)
		bad += buf[i] != (uint8_t)(sector * 37 + i);
	check("disk read by interrupt: status", status_byte, 0);
	check("disk read by interrupt: data", bad, 0);
}

static void wait_input(unsigned n)
{
	unsigned want = uart_count + 1;
	uint64_t seen;
	printf("ready %u\n", n);
	uint64_t t0 = mtime_read();
	uint64_t i0 = instret();
	mmio_write8(UART_BASE + UART_IER, IER_RDI);
	idle_until(&uart_count, want, &seen);
	printf("latency uart %u: insns %lu ticks %lu seen %ld\n", n, irq_instret - i0, irq_mtime - t0,
	       seen ? (long)(irq_instret - seen) : -1L);
	check("uart byte by interrupt", uart_byte, 'a' + n);
}

int main(unsigned long hartid, void *dtb)
{
	printf("# irq_%s: interrupt-driven disk and UART input, idle by %s\n", IDLE_WFI ? "wfi" : "spin",
	       IDLE_WFI ? "WFI" : "spinning with interrupts on");
	if (!find_blk()) {
		printf("no virtio-blk device\n");
		return 1;
	}
	check("virtio-blk init", blk_init(), 0);
	mmio_write32(PLIC_PRIO(virq), 1);
	mmio_write32(PLIC_PRIO(UART_IRQ), 1);
	mmio_write32(PLIC_THRESH(CTX_M0), 0);
	mmio_write32(PLIC_ENABLE0(CTX_M0), (1u << virq) | (1u << UART_IRQ));
	mmio_write8(UART_BASE + UART_FCR, 0x07); /* FIFOs on and cleared, receive trigger at 1 byte */
	m_trap_handler = handler;
	csr_write(mie, MIP_MEIP);
	csr_set(mstatus, MSTATUS_MIE);

	for (unsigned n = 0; n < READS; n++)
		read_sector(n, 1 + n);
	for (unsigned n = 0; n < INPUTS; n++)
		wait_input(n);

	csr_clear(mstatus, MSTATUS_MIE);
	check("no other interrupts", other_irqs, 0);
	return check_summary();
}
