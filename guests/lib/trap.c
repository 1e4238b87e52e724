/* trap.c - C side of trap handling: dispatch, default handlers, helpers. */
#include "guest.h"

#define RIM_MAGIC        0x52494d  /* must match trap.S */
#define S_UNEXPECTED     0x53554e  /* S-mode default handler -> M-mode report */

volatile trap_handler_t m_trap_handler;
volatile trap_handler_t s_trap_handler;

void rim_resume(uint64_t retval) __attribute__((noreturn));

void trap_skip(struct trap_frame *f)
{
	uint16_t lo = *(volatile uint16_t *)f->epc;
	f->epc += ((lo & 3) == 3) ? 4 : 2;
}

static int is_ecall(uint64_t cause)
{
	return cause == EXC_ECALL_U || cause == EXC_ECALL_S || cause == EXC_ECALL_M;
}

void m_trap_dispatch(struct trap_frame *f)
{
	if (is_ecall(f->cause) && f->x[17] == RIM_MAGIC)
		rim_resume(f->x[10]);
	if (is_ecall(f->cause) && f->x[17] == S_UNEXPECTED) {
		printf("unexpected S-mode trap: scause=0x%lx sepc=0x%lx stval=0x%lx\n",
		       f->x[10], f->x[11], f->x[12]);
		exit(99);
	}
	if (m_trap_handler) {
		m_trap_handler(f);
		return;
	}
	printf("unexpected M-mode trap: mcause=0x%lx mepc=0x%lx mtval=0x%lx\n",
	       f->cause, f->epc, f->tval);
	exit(99);
}

/* Runs in S-mode: forward to M-mode with an ecall (never returns). */
static void __attribute__((noreturn)) s_forward(uint64_t a7, uint64_t a0,
						 uint64_t a1, uint64_t a2)
{
	register uint64_t r_a0 __asm__("a0") = a0;
	register uint64_t r_a1 __asm__("a1") = a1;
	register uint64_t r_a2 __asm__("a2") = a2;
	register uint64_t r_a7 __asm__("a7") = a7;
	__asm__ volatile ("ecall" :: "r"(r_a0), "r"(r_a1), "r"(r_a2), "r"(r_a7));
	for (;;)
		;
}

void s_trap_dispatch(struct trap_frame *f)
{
	/* run_in_mode's return ecall from U-mode, delegated to S: pass it on */
	if (f->cause == EXC_ECALL_U && f->x[17] == RIM_MAGIC)
		s_forward(RIM_MAGIC, f->x[10], 0, 0);
	/* ... which cannot work if S-mode ecalls are delegated as well */
	if (f->cause == EXC_ECALL_S && f->x[17] == RIM_MAGIC) {
		uart_puts("run_in_mode: S-mode ecalls are delegated, cannot return to M\n");
		exit(98);
	}
	if (s_trap_handler) {
		s_trap_handler(f);
		return;
	}
	s_forward(S_UNEXPECTED, f->cause, f->epc, f->tval);
}
