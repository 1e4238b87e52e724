# ticker.S - a small guest that stays alive, for the density tests (1,000
# partitions on one host): hart 0 sleeps in WFI for `period` mtime ticks
# (CLINT mtimecmp, MTIE enabled, mstatus.MIE off so WFI just resumes), then
# counts the tick in `ticks` and prints its last decimal digit on the UART
# ('1', '2', ... '9', '0', '1', ...), so a partition's console shows how far
# it got and that no byte was lost or repeated. After `limit` ticks (0:
# never) it passes through the test finisher. Other harts park in WFI. No
# stack and no library: two pages of RAM are all it touches besides the
# device tree.
	.file	"ticker.S"
	.section .text.init
	.globl _start
_start:
	csrr	t0, mhartid
	bnez	t0, park
	li	s0, 0x10000000		# UART 16550 THR
	li	s1, 0x02004000		# CLINT mtimecmp[0]
	la	s2, ticks
	la	t0, period
	ld	s3, 0(t0)
	la	t0, limit
	ld	s4, 0(t0)
	li	s5, 10
	li	t0, 0x80		# mie.MTIE
	csrs	mie, t0
loop:
	csrr	t0, time
	add	t1, t0, s3
	sd	t1, 0(s1)		# mtimecmp = now + period
wait:	wfi
	csrr	t0, time
	bltu	t0, t1, wait		# early (spurious) wake: sleep on
	ld	t2, 0(s2)
	addi	t2, t2, 1
	sd	t2, 0(s2)
	remu	t3, t2, s5
	addi	t3, t3, '0'
	sb	t3, 0(s0)
	bne	t2, s4, loop
	li	t0, 0x100000		# sifive_test finisher: pass
	li	t1, 0x5555
	sw	t1, 0(t0)
park:	wfi
	j	park

	.data
	.globl period, limit
	.balign 8
period:	.dword	1000000		# 100 ms at 10 MHz
limit:	.dword	0

	.bss
	.globl ticks
	.balign 8
ticks:	.zero	8
