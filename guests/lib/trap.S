/*
 * trap.S - trap entry/exit and privilege-mode switching.
 *
 * m_trap_entry: swaps sp with mscratch (the hart's M-mode trap stack), saves
 * x1..x31 and mcause/mepc/mtval/mstatus in a struct trap_frame, calls
 * m_trap_dispatch(frame), writes back mepc/mstatus and the registers, mret.
 * s_trap_entry: the same with sscratch/scause/sepc/stval/sstatus and sret.
 */
	.file	"trap.S"	/* fixed name in the symbol table (reproducible builds) */
#define REGBYTES 8
#define FRAME_SIZE (36 * REGBYTES)
#define F_CAUSE  (32 * REGBYTES)
#define F_EPC    (33 * REGBYTES)
#define F_TVAL   (34 * REGBYTES)
#define F_STATUS (35 * REGBYTES)
#define RIM_MAGIC 0x52494d		/* "RIM": run_in_mode return ecall */
#define TRAP_STACK_SHIFT 13

.macro SAVE_REGS
	sd	x1, 1*REGBYTES(sp)
	sd	x3, 3*REGBYTES(sp)
	sd	x4, 4*REGBYTES(sp)
	sd	x5, 5*REGBYTES(sp)
	sd	x6, 6*REGBYTES(sp)
	sd	x7, 7*REGBYTES(sp)
	sd	x8, 8*REGBYTES(sp)
	sd	x9, 9*REGBYTES(sp)
	sd	x10, 10*REGBYTES(sp)
	sd	x11, 11*REGBYTES(sp)
	sd	x12, 12*REGBYTES(sp)
	sd	x13, 13*REGBYTES(sp)
	sd	x14, 14*REGBYTES(sp)
	sd	x15, 15*REGBYTES(sp)
	sd	x16, 16*REGBYTES(sp)
	sd	x17, 17*REGBYTES(sp)
	sd	x18, 18*REGBYTES(sp)
	sd	x19, 19*REGBYTES(sp)
	sd	x20, 20*REGBYTES(sp)
	sd	x21, 21*REGBYTES(sp)
	sd	x22, 22*REGBYTES(sp)
	sd	x23, 23*REGBYTES(sp)
	sd	x24, 24*REGBYTES(sp)
	sd	x25, 25*REGBYTES(sp)
	sd	x26, 26*REGBYTES(sp)
	sd	x27, 27*REGBYTES(sp)
	sd	x28, 28*REGBYTES(sp)
	sd	x29, 29*REGBYTES(sp)
	sd	x30, 30*REGBYTES(sp)
	sd	x31, 31*REGBYTES(sp)
.endm

.macro RESTORE_REGS		/* all but sp */
	ld	x1, 1*REGBYTES(sp)
	ld	x3, 3*REGBYTES(sp)
	ld	x4, 4*REGBYTES(sp)
	ld	x5, 5*REGBYTES(sp)
	ld	x6, 6*REGBYTES(sp)
	ld	x7, 7*REGBYTES(sp)
	ld	x8, 8*REGBYTES(sp)
	ld	x9, 9*REGBYTES(sp)
	ld	x10, 10*REGBYTES(sp)
	ld	x11, 11*REGBYTES(sp)
	ld	x12, 12*REGBYTES(sp)
	ld	x13, 13*REGBYTES(sp)
	ld	x14, 14*REGBYTES(sp)
	ld	x15, 15*REGBYTES(sp)
	ld	x16, 16*REGBYTES(sp)
	ld	x17, 17*REGBYTES(sp)
	ld	x18, 18*REGBYTES(sp)
	ld	x19, 19*REGBYTES(sp)
	ld	x20, 20*REGBYTES(sp)
	ld	x21, 21*REGBYTES(sp)
	ld	x22, 22*REGBYTES(sp)
	ld	x23, 23*REGBYTES(sp)
	ld	x24, 24*REGBYTES(sp)
	ld	x25, 25*REGBYTES(sp)
	ld	x26, 26*REGBYTES(sp)
	ld	x27, 27*REGBYTES(sp)
	ld	x28, 28*REGBYTES(sp)
	ld	x29, 29*REGBYTES(sp)
	ld	x30, 30*REGBYTES(sp)
	ld	x31, 31*REGBYTES(sp)
.endm

/* TRAP_ENTRY prefix: m or s */
.macro TRAP_ENTRY p, ret
	csrrw	sp, \p\()scratch, sp	/* sp = trap stack top, scratch = old sp */
	addi	sp, sp, -FRAME_SIZE
	SAVE_REGS
	csrr	t0, \p\()scratch
	sd	t0, 2*REGBYTES(sp)
	csrr	t0, \p\()cause
	sd	t0, F_CAUSE(sp)
	csrr	t0, \p\()epc
	sd	t0, F_EPC(sp)
	csrr	t0, \p\()tval
	sd	t0, F_TVAL(sp)
	csrr	t0, \p\()status
	sd	t0, F_STATUS(sp)
	mv	a0, sp
	call	\p\()_trap_dispatch
	ld	t0, F_EPC(sp)
	csrw	\p\()epc, t0
	ld	t0, F_STATUS(sp)
	csrw	\p\()status, t0
	addi	t0, sp, FRAME_SIZE
	csrw	\p\()scratch, t0	/* trap stack top again */
	RESTORE_REGS
	ld	sp, 2*REGBYTES(sp)
	\ret
.endm

	.text
	.balign	4
	.globl	m_trap_entry
m_trap_entry:
	TRAP_ENTRY m, mret

	.balign	4
	.globl	s_trap_entry
s_trap_entry:
	TRAP_ENTRY s, sret

/* uint64_t run_in_mode(int mode, uint64_t (*fn)(uint64_t), uint64_t arg) */
	.globl	run_in_mode
run_in_mode:
	la	t0, rim_ctx
	sd	ra, 0*REGBYTES(t0)
	sd	sp, 1*REGBYTES(t0)
	sd	s0, 2*REGBYTES(t0)
	sd	s1, 3*REGBYTES(t0)
	sd	s2, 4*REGBYTES(t0)
	sd	s3, 5*REGBYTES(t0)
	sd	s4, 6*REGBYTES(t0)
	sd	s5, 7*REGBYTES(t0)
	sd	s6, 8*REGBYTES(t0)
	sd	s7, 9*REGBYTES(t0)
	sd	s8, 10*REGBYTES(t0)
	sd	s9, 11*REGBYTES(t0)
	sd	s10, 12*REGBYTES(t0)
	sd	s11, 13*REGBYTES(t0)
	csrr	t1, mstatus
	sd	t1, 14*REGBYTES(t0)
	/* MPP = mode, MPIE = MIE */
	li	t2, (3 << 11) | (1 << 7)
	csrc	mstatus, t2
	andi	t2, a0, 3
	slli	t2, t2, 11
	andi	t3, t1, (1 << 3)
	slli	t3, t3, 4
	or	t2, t2, t3
	csrs	mstatus, t2
	csrw	mepc, a1
	mv	a0, a2
	la	ra, rim_return
	mret
rim_return:				/* fn returns here, in its own mode */
	li	a7, RIM_MAGIC
	ecall
1:	j	1b

/* void rim_resume(uint64_t retval): called from the M-mode trap dispatcher
 * on the RIM_MAGIC ecall; returns retval from run_in_mode. */
	.globl	rim_resume
rim_resume:
	la	t0, rim_ctx
	ld	t1, 14*REGBYTES(t0)
	csrw	mstatus, t1
	ld	ra, 0*REGBYTES(t0)
	ld	sp, 1*REGBYTES(t0)
	ld	s0, 2*REGBYTES(t0)
	ld	s1, 3*REGBYTES(t0)
	ld	s2, 4*REGBYTES(t0)
	ld	s3, 5*REGBYTES(t0)
	ld	s4, 6*REGBYTES(t0)
	ld	s5, 7*REGBYTES(t0)
	ld	s6, 8*REGBYTES(t0)
	ld	s7, 9*REGBYTES(t0)
	ld	s8, 10*REGBYTES(t0)
	ld	s9, 11*REGBYTES(t0)
	ld	s10, 12*REGBYTES(t0)
	ld	s11, 13*REGBYTES(t0)
	/* reset both trap stacks (we abandon the frames we were called from) */
	csrr	t1, mhartid
	slli	t1, t1, TRAP_STACK_SHIFT
	la	t2, __mtrap_stack_top
	sub	t2, t2, t1
	csrw	mscratch, t2
	la	t2, __strap_stack_top
	sub	t2, t2, t1
	csrw	sscratch, t2
	ret

	.bss
	.balign	8
rim_ctx:
	.skip	15 * REGBYTES
