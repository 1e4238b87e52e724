# spin.S - a CPU-bound vCPU for the scheduler tests: every hart counts
# loop iterations in counters[mhartid] (4 instructions per iteration), forever.
	.file	"spin.S"
	.section .text.init
	.globl _start
_start:
	csrr	t0, mhartid
	la	t1, counters
	slli	t0, t0, 3
	add	t1, t1, t0
1:	ld	t2, 0(t1)
	addi	t2, t2, 1
	sd	t2, 0(t1)
	j	1b

	.bss
	.globl counters
	.balign 8
counters:	.zero	8 * 64		# up to 64 harts
