/*
 * interrupts_vec.S - a vectored mtvec table for the interrupts test: entry
 * n records n in vec_hit, then continues in the library's m_trap_entry.
 */
	.file	"interrupts_vec.S"	/* fixed name in the symbol table (reproducible builds) */
	.option	norvc

.macro VEC n
vec_\n:
	csrrw	sp, mscratch, sp
	addi	sp, sp, -16
	sd	t0, 0(sp)
	sd	t1, 8(sp)
	la	t0, vec_hit
	li	t1, \n
	sd	t1, 0(t0)
	ld	t0, 0(sp)
	ld	t1, 8(sp)
	addi	sp, sp, 16
	csrrw	sp, mscratch, sp
	j	m_trap_entry
.endm

	.text
	.balign	256
	.globl	m_vec_table
m_vec_table:
	j	vec_0		/* exceptions */
	j	vec_1
	j	vec_2
	j	vec_3		/* machine software */
	j	vec_4
	j	vec_5
	j	vec_6
	j	vec_7		/* machine timer */
	j	vec_8
	j	vec_9
	j	vec_10
	j	vec_11
	VEC 0
	VEC 1
	VEC 2
	VEC 3
	VEC 4
	VEC 5
	VEC 6
	VEC 7
	VEC 8
	VEC 9
	VEC 10
	VEC 11

	.data
	.balign	8
	.globl	vec_hit
vec_hit:
	.dword	-1
