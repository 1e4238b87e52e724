# gamer.S - a vCPU that tries to dodge tick-sampled accounting (the attack
# of Zhou et al., "Scheduler vulnerabilities and coordinated attacks in
# cloud computing", 2011): it works until `guard_ticks` before the next
# multiple of `tick_ticks` of mtime, then sleeps in WFI until just after that
# boundary, so it is never the running vCPU when a tick samples. Work
# iterations counted in counters[mhartid].
	.file	"gamer.S"
	.section .text.init
	.globl _start
_start:
	csrr	s0, mhartid
	la	t0, tick_ticks
	ld	s1, 0(t0)
	la	t0, guard_ticks
	ld	s4, 0(t0)
	li	s2, 0x02004000		# CLINT mtimecmp[hart]
	slli	t0, s0, 3
	add	s2, s2, t0
	la	s3, counters
	add	s3, s3, t0
	li	t0, 0x80		# mie.MTIE
	csrs	mie, t0
loop:
	csrr	t0, time
	remu	t1, t0, s1
	sub	t2, s1, t1		# ticks to the next boundary
	bgtu	t2, s4, work
	add	t3, t0, t2
	addi	t3, t3, 1		# just after the boundary
	sd	t3, 0(s2)
wait:	wfi
	csrr	t0, time
	bltu	t0, t3, wait
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
	.globl counters
	.balign 8
counters:	.zero	8 * 64
