/*
 * smc - self-modifying code, which a JIT tier must get right (docs/jit.md):
 *
 *  1. a loop that rewrites its own next instruction and runs it, with
 *     fence.i in between (the new instruction must run) and without (the
 *     ISA allows the old or the new one: QEMU 7.2 finishes its translated
 *     block with the old one, hv's interpreter runs the new one; both are
 *     accepted);
 *  2. a JIT-style generator: functions generated into a buffer and run after
 *     fence.i, then regenerated differently in the same buffer and run again;
 *  3. code written by a device: a virtio-blk read (DMA) over a page of code
 *     that ran hot, run after fence.i; then once more without fence.i, where
 *     only the device write itself can drop the old translation (QEMU's DMA
 *     invalidates its translated blocks; hv's host-side writes bump the
 *     page's code generation, drivers/emulated/dirty.ts).
 *
 * Each function runs often enough to be translated under --jit on (1,000
 * block entries). Needs a virtio-blk disk of at least 2 sectors (it writes
 * sectors 0 and 1; the output does not depend on the disk's contents):
 *   qemu-system-riscv64 -M virt -bios none -nographic -kernel smc.elf \
 *     -drive file=IMG,format=raw,if=none,id=d0 -device virtio-blk-device,drive=d0
 */
#include "virtio_mmio.h"

#define A0 10
#define T0 5
#define T1 6
#define T2 7
#define ADDI(rd, rs, imm) ((((uint32_t)(imm) & 0xfff) << 20) | ((rs) << 15) | ((rd) << 7) | 0x13)
#define SRLI(rd, rs, sh)  (((sh) << 20) | ((rs) << 15) | (5 << 12) | ((rd) << 7) | 0x13)
#define XOR(rd, a, b)     (((b) << 20) | ((a) << 15) | (4 << 12) | ((rd) << 7) | 0x33)
#define MUL(rd, a, b)     ((1u << 25) | ((b) << 20) | ((a) << 15) | ((rd) << 7) | 0x33)
#define RET               0x00008067u

static uint32_t bne(unsigned rs1, unsigned rs2, int off)
{
	uint32_t o = (uint32_t)off;
	return (((o >> 12) & 1) << 31) | (((o >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) |
	       (1 << 12) | (((o >> 1) & 0xf) << 8) | (((o >> 11) & 1) << 7) | 0x63;
}

/* f_k(x): repeat 3 + k % 5 times { x = x * (2k + 3) + 7k + 1; x ^= x >> 3 }.
 * Writes its 9 instructions at p. */
static void emit_fn(uint32_t *p, unsigned k)
{
	const uint32_t code[] = {
		ADDI(T0, 0, 3 + k % 5),
		ADDI(T1, 0, 2 * k + 3),
		MUL(A0, A0, T1),	/* loop: */
		ADDI(A0, A0, 7 * k + 1),
		SRLI(T2, A0, 3),
		XOR(A0, A0, T2),
		ADDI(T0, T0, -1),
		bne(T0, 0, -20),	/* to loop */
		RET,
	};
	for (unsigned i = 0; i < sizeof(code) / sizeof(code[0]); i++)
		p[i] = code[i];
}

static void fence_i(void) { asm volatile("fence.i" ::: "memory"); }

typedef uint64_t (*fn_t)(uint64_t);

/* Calls the function at p 1500 times, chaining the results. */
static uint64_t run_fn(const void *p, uint64_t x)
{
	fn_t f = (fn_t)(uintptr_t)p;
	for (unsigned j = 0; j < 1500; j++)
		x = f(x) + j;
	return x;
}

/* uint64_t smc_next(uint64_t n), smc_next_fenced(uint64_t n): for i = 1..n,
 * write "addi a1, a1, i" over the instruction right after the store and run
 * it; return a1 = n(n+1)/2. Full-size instructions (norvc): the store
 * replaces exactly one. */
#define SMC_LOOP(name, fence)                                                  \
	asm(".pushsection .text." #name ", \"ax\"\n"                           \
	    ".option push\n.option norvc\n"                                    \
	    ".balign 4\n.globl " #name "\n" #name ":\n"                        \
	    "  li a1, 0\n  li t0, 0\n  la t1, 1f\n  li t3, 0x00058593\n"      \
	    "0: addi t0, t0, 1\n  slli t2, t0, 20\n  or t2, t2, t3\n"        \
	    "  sw t2, 0(t1)\n" fence                                           \
	    "1: addi a1, a1, 0\n  bne t0, a0, 0b\n  mv a0, a1\n  ret\n"      \
	    ".option pop\n.popsection\n")
SMC_LOOP(smc_next, "");
SMC_LOOP(smc_next_fenced, "  fence.i\n");
uint64_t smc_next(uint64_t n);
uint64_t smc_next_fenced(uint64_t n);

static uint32_t jit_page[1024] __attribute__((aligned(4096)));
static uint32_t dma_page[1024] __attribute__((aligned(4096)));
static uint32_t sector[128] __attribute__((aligned(512)));
int main(unsigned long hartid, void *dtb)
{
	printf("smc\n");
	uint64_t sum = smc_next(300);	/* 45150 new instructions, 44850 each one stale */
	printf("rewrite next insn      %s\n", sum == 45150 || sum == 44850 ? "old or new" : "wrong");
	printf("rewrite next, fence.i  %lu\n", smc_next_fenced(300));

	for (unsigned k = 0; k < 6; k++) {
		emit_fn(jit_page, k);
		fence_i();
		printf("generated f%u          %016lx\n", k, run_fn(jit_page, k));
	}

	if (virtio_find_blk() < 0 || virtio_blk_init(0, &(uint32_t){ 0 })) {
		printf("no virtio-blk device\n");
		return 1;
	}
	emit_fn(sector, 10);
	unsigned st = virtio_blk_request(T_OUT, 0, sector, 512);
	emit_fn(sector, 11);
	st |= virtio_blk_request(T_OUT, 1, sector, 512);
	emit_fn(dma_page, 9);
	fence_i();
	printf("before the read f9     %016lx\n", run_fn(dma_page, 9));
	st |= virtio_blk_request(T_IN, 0, dma_page, 512);
	fence_i();
	printf("read, fence.i f10      %016lx\n", run_fn(dma_page, 10));
	st |= virtio_blk_request(T_IN, 1, dma_page, 512);
	printf("read, no fence.i f11   %016lx\n", run_fn(dma_page, 11));
	printf("disk status %u\n", st);
	return 0;
}
