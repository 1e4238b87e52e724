# yielder.S - an enlightened (S-mode) vCPU for the scheduler tests that
# tries to dodge tick-sampled accounting by yielding: it works until
# `guard_ticks` before the next multiple of `tick_ticks` of the time CSR,
# then yields the pCPU with the hypervisor call (EID 0x0A006876, FID 2)
# until that boundary has passed. Started by the hypervisor in S-mode with
# a0 = hart id. Work iterations in counters[hart], yields in yields[hart].
	.file	"yielder.S"
	.section .text.init
	.globl _start
_start:
	slli	t0, a0, 3
	la	s3, counters
	add	s3, s3, t0
	la	s5, yields
	add	s5, s5, t0
	la	t0, tick_ticks
	ld	s1, 0(t0)
	la	t0, guard_ticks
	ld	s4, 0(t0)
	li	s6, 0x0A006876		# hypervisor calls
loop:
	rdtime	t0
	remu	t1, t0, s1
	sub	t2, s1, t1		# ticks to the next boundary
	bgtu	t2, s4, work
	add	s7, t0, t2		# the boundary
1:	mv	a7, s6
	li	a6, 2			# yield
	ecall
	ld	t4, 0(s5)
	addi	t4, t4, 1
	sd	t4, 0(s5)
	rdtime	t0
	bltu	t0, s7, 1b
	j	loop
work:
	ld	t4, 0(s3)
	addi	t4, t4, 1
	sd	t4, 0(s3)
	j	loop

	.data
	.globl tick_ticks, guard_ticks
	.balign 8
tick_ticks:	.dword	100000	# 10 ms at 10 MHz
guard_ticks:	.dword	1000	# 0.1 ms

	.bss
	.globl counters, yields
	.balign 8
counters:	.zero	8 * 64
yields:	.zero	8 * 64
