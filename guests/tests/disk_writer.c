/*
 * disk_writer - keeps a virtio-blk disk busy: PASSES passes over its first
 * SECTORS sectors, each sector written with a pattern of (pass, sector),
 * then every sector read back and checked, and one hash of the whole range
 * printed. Snapshot, revert and storage-migration tests run it on a disk
 * that is snapshotted or moved while it writes: the guest must not notice
 * (its checks pass and the hash is that of an uninterrupted run).
 *
 *   qemu-system-riscv64 -M virt -bios none -nographic -kernel disk_writer.elf \
 *     -drive file=IMG,format=raw,if=none,id=d0 -device virtio-blk-device,drive=d0
 * The disk must hold at least SECTORS sectors; the output does not depend
 * on its contents.
 */
#include "virtio_mmio.h"

#define SECTORS 256
#define PASSES  4

static uint8_t buf[512] __attribute__((aligned(512)));
static void fill(unsigned pass, unsigned sector)
{
	for (int i = 0; i < 512; i++)
		buf[i] = (uint8_t)(pass * 31 + sector * 7 + i);
}

int main(unsigned long hartid, void *dtb)
{
	printf("disk writer: %d passes over %d sectors\n", PASSES, SECTORS);
	if (virtio_find_blk() < 0) {
		printf("no virtio-blk device found\n");
		return 1;
	}
	uint32_t f0;
	check("init", virtio_blk_init(F_BLK_FLUSH, &f0), 0);
	unsigned bad = 0;
	for (unsigned pass = 0; pass < PASSES; pass++) {
		for (unsigned s = 0; s < SECTORS; s++) {
			fill(pass, s);
			bad += virtio_blk_request(T_OUT, s, buf, 512) != S_OK;
		}
		printf("pass %u written\n", pass);
	}
	check("writes", bad, 0);
	uint32_t h = 2166136261u;
	unsigned wrong = 0;
	for (unsigned s = 0; s < SECTORS; s++) {
		bad += virtio_blk_request(T_IN, s, buf, 512) != S_OK;
		for (int i = 0; i < 512; i++) {
			wrong += buf[i] != (uint8_t)((PASSES - 1) * 31 + s * 7 + i);
			h = (h ^ buf[i]) * 16777619u;
		}
	}
	check("reads", bad, 0);
	check("last pass reads back", wrong, 0);
	printf("disk fnv1a %08x\n", h);
	return check_summary();
}
