/*
 * crt0.S - S-mode entry for enlightened guests: an SBI firmware (hv run
 * -bios hv, or OpenSBI) starts the boot hart at _start in S-mode with
 * a0 = hartid, a1 = device tree, satp = 0. The boot hart need not be hart 0
 * (OpenSBI picks one at random).
 *
 * boot hart: stacks, trap vector, FPU, zero .bss, console_init(), then
 *            main(hartid, dtb) and exit(main's return value) through SRST.
 * others:    stay stopped until the program starts them with smp_start(),
 *            which has SBI HSM enter them at _secondary_start with
 *            a1 = their struct smp_slot {fn, arg}: they call fn(hartid, arg)
 *            and stop (sbi_hart_stop) when it returns.
 */
	.file	"crt0.S"	/* fixed name in the symbol table (reproducible builds) */
#define STACK_SHIFT 14       /* 16 KiB, must match link.ld */
#define TRAP_STACK_SHIFT 12  /* 4 KiB, must match link.ld */
#define MAX_HARTS 8

/* gp, tp = hartid, sie = 0, stacks, stvec, FPU; a0 = hartid. Clobbers t0-t1. */
.macro HART_SETUP
	.option push
	.option norelax
	la	gp, __global_pointer$
	.option pop
	mv	tp, a0
	csrw	sie, zero
	li	t0, MAX_HARTS
	bgeu	a0, t0, park
	la	sp, __stack_top
	slli	t0, a0, STACK_SHIFT
	sub	sp, sp, t0
	la	t1, __strap_stack_top
	slli	t0, a0, TRAP_STACK_SHIFT
	sub	t1, t1, t0
	csrw	sscratch, t1
	la	t0, s_trap_entry
	csrw	stvec, t0
	li	t0, (1 << 13)		/* sstatus.FS = Initial */
	csrs	sstatus, t0
	fscsr	zero
.endm

	.section .text.init, "ax", @progbits
	.globl	_start
_start:
	HART_SETUP
	la	t0, __bss_start
	la	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:	mv	s0, a0
	mv	s1, a1
	call	console_init
	mv	a0, s0
	mv	a1, s1
	call	main
	call	exit

	.globl	_secondary_start
_secondary_start:
	HART_SETUP
	ld	t0, 0(a1)		/* slot->fn */
	ld	a1, 8(a1)		/* slot->arg */
	jalr	t0
	call	console_flush
	call	sbi_hart_stop
park:
	wfi
	j	park
