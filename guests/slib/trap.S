/*
 * trap.S - S-mode trap entry: swaps sp with sscratch (the hart's trap
 * stack), saves x1..x31 and scause/sepc/stval/sstatus in a struct
 * trap_frame (guest.h), calls s_trap_dispatch(frame), writes sepc/sstatus
 * and the registers back and returns with sret.
 */
	.file	"trap.S"
#define REGBYTES 8
#define FRAME_SIZE (36 * REGBYTES)
#define F_CAUSE  (32 * REGBYTES)
#define F_EPC    (33 * REGBYTES)
#define F_TVAL   (34 * REGBYTES)
#define F_STATUS (35 * REGBYTES)

	.text
	.balign	4
	.globl	s_trap_entry
s_trap_entry:
	csrrw	sp, sscratch, sp
	addi	sp, sp, -FRAME_SIZE
	.irp	r, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	sd	x\r, \r*REGBYTES(sp)
	.endr
	csrr	t0, sscratch
	sd	t0, 2*REGBYTES(sp)
	csrr	t0, scause
	sd	t0, F_CAUSE(sp)
	csrr	t0, sepc
	sd	t0, F_EPC(sp)
	csrr	t0, stval
	sd	t0, F_TVAL(sp)
	csrr	t0, sstatus
	sd	t0, F_STATUS(sp)
	mv	a0, sp
	call	s_trap_dispatch
	ld	t0, F_EPC(sp)
	csrw	sepc, t0
	ld	t0, F_STATUS(sp)
	csrw	sstatus, t0
	addi	t0, sp, FRAME_SIZE
	csrw	sscratch, t0
	.irp	r, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	ld	x\r, \r*REGBYTES(sp)
	.endr
	ld	sp, 2*REGBYTES(sp)
	sret
