/*
 * crt0.S - reset entry for QEMU virt with -bios none: every hart starts here
 * in M-mode with a0 = hartid, a1 = DTB address.
 *
 * hart 0: set up stacks/trap vectors/FPU/PMP, zero .bss, call
 *         main(hartid, dtb), then exit(main's return value) via the finisher.
 * others: park in a WFI loop, unless the program defines secondary_main(),
 *         which they call (after hart 0 has zeroed .bss).
 */
	.file	"crt0.S"	/* fixed name in the symbol table (reproducible builds) */
#define STACK_SHIFT 16       /* 64 KiB, must match link.ld */
#define TRAP_STACK_SHIFT 13  /* 8 KiB, must match link.ld */
#define MAX_HARTS 8

	.section .text.init, "ax", @progbits
	.globl _start
_start:
	csrw	mie, zero
	.option push
	.option norelax
	la	gp, __global_pointer$
	.option pop
	mv	tp, a0
	li	t0, MAX_HARTS
	bgeu	a0, t0, park

	/* stacks: main, M-mode trap (mscratch), S-mode trap (sscratch) */
	la	sp, __stack_top
	slli	t0, a0, STACK_SHIFT
	sub	sp, sp, t0
	slli	t0, a0, TRAP_STACK_SHIFT
	la	t1, __mtrap_stack_top
	sub	t1, t1, t0
	csrw	mscratch, t1
	la	t1, __strap_stack_top
	sub	t1, t1, t0
	csrw	sscratch, t1

	/* FPU on (mstatus.FS = Initial), fcsr = 0 */
	li	t0, (1 << 13)
	csrs	mstatus, t0
	fscsr	zero

	/* PMP entry 0 = whole address space RWX (NAPOT), so S/U-mode may access
	 * memory. If PMP is not implemented the write traps to 1: below. */
	la	t0, 1f
	csrw	mtvec, t0
	li	t0, -1
	csrw	pmpaddr0, t0
	li	t0, 0x1f		/* A=NAPOT, X, W, R */
	csrw	pmpcfg0, t0
	.balign	4
1:
	la	t0, m_trap_entry
	csrw	mtvec, t0
	la	t0, s_trap_entry
	csrw	stvec, t0
	csrw	medeleg, zero
	csrw	mideleg, zero
	csrw	satp, zero

	bnez	a0, secondary

	/* hart 0: zero .bss */
	la	t0, __bss_start
	la	t1, __bss_end
2:	bgeu	t0, t1, 3f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	2b
3:	fence	rw, rw
	la	t0, boot_done
	li	t1, 1
	sd	t1, 0(t0)
	call	main			/* a0 = hartid, a1 = dtb still */
	call	exit

secondary:
	la	t0, secondary_entry
	ld	t0, 0(t0)
	beqz	t0, park
	la	t1, boot_done
4:	ld	t2, 0(t1)
	beqz	t2, 4b
	fence	rw, rw
	jalr	t0			/* secondary_main(hartid, dtb) */
park:
	wfi
	j	park

	.section .data
	.balign 8
boot_done:
	.dword	0
secondary_entry:			/* 0 if secondary_main is not defined */
	.weak	secondary_main
	.dword	secondary_main
