# sleeper.S - an interactive vCPU for the scheduler tests: every hart does
# `work_iters` loop iterations, then sleeps in WFI for `sleep_ticks` mtime
# ticks (CLINT mtimecmp, MTIE enabled, mstatus.MIE off so WFI just resumes),
# and on waking measures how late it runs: now - deadline. Per hart, in
# stats[mhartid]: wakes, sum of lateness, max lateness, work iterations.
	.file	"sleeper.S"
	.section .text.init
	.globl _start
_start:
	csrr	s0, mhartid
	la	t0, sleep_ticks
	ld	s1, 0(t0)
	la	t0, work_iters
	ld	s4, 0(t0)
	li	s2, 0x02004000		# CLINT mtimecmp[hart]
	slli	t0, s0, 3
	add	s2, s2, t0
	la	s3, stats
	slli	t0, s0, 5
	add	s3, s3, t0
	li	t0, 0x80		# mie.MTIE
	csrs	mie, t0
loop:
	mv	t5, s4
work:	beqz	t5, sleep
	ld	t4, 24(s3)
	addi	t4, t4, 1
	sd	t4, 24(s3)
	addi	t5, t5, -1
	j	work
sleep:
	csrr	t0, time
	add	t1, t0, s1
	sd	t1, 0(s2)		# mtimecmp = now + sleep
wait:	wfi
	csrr	t2, time
	bltu	t2, t1, wait		# early (spurious) wake: sleep on
	sub	t3, t2, t1		# lateness in ticks
	ld	t4, 0(s3)
	addi	t4, t4, 1
	sd	t4, 0(s3)
	ld	t4, 8(s3)
	add	t4, t4, t3
	sd	t4, 8(s3)
	ld	t4, 16(s3)
	bgeu	t4, t3, loop
	sd	t3, 16(s3)
	j	loop

	.data
	.globl sleep_ticks, work_iters
	.balign 8
sleep_ticks:	.dword	50000	# 5 ms at 10 MHz
work_iters:	.dword	100

	.bss
	.globl stats
	.balign 8
stats:	.zero	32 * 64		# up to 64 harts
