/* trap.c - S-mode trap dispatch: the program's handler, or a report and exit(99). */
#include "sbi.h"

volatile trap_handler_t s_trap_handler;

void s_trap_dispatch(struct trap_frame *f)
{
	if (s_trap_handler) {
		s_trap_handler(f);
		return;
	}
	printf("unexpected S-mode trap: scause 0x%lx sepc 0x%lx stval 0x%lx\n", f->cause, f->epc, f->tval);
	exit(99);
}
