/*
 * virtio_blk - a polling virtio-blk driver over virtio-mmio: finds the
 * block device among the 8 virtio-mmio slots (QEMU puts a -device
 * virtio-blk-device in the highest free slot, this hypervisor's -drive in
 * slot 0), brings it up (modern version 2 transport, or legacy version 1,
 * which is QEMU's default for virtio-mmio), reads sector 0, writes sector 1,
 * reads it back, flushes, and checks the error statuses for a read past the
 * end and an unknown request type.
 *
 * Run it on a scratch copy of a disk image (it writes sector 1):
 *   qemu-system-riscv64 -M virt -bios none -nographic -kernel virtio_blk.elf \
 *     -drive file=IMG,format=raw,if=none,id=d0 -device virtio-blk-device,drive=d0
 * The output depends only on the image's size and first sector.
 */
#include "virtio_mmio.h"

static uint8_t buf[512] __attribute__((aligned(512)));
static uint8_t pattern[512];
static uint32_t fnv1a(const uint8_t *p, unsigned n)
{
	uint32_t h = 2166136261u;
	for (unsigned i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

int main(unsigned long hartid, void *dtb)
{
	printf("virtio-blk test\n");
	if (virtio_find_blk() < 0) {
		printf("no virtio-blk device found\n");
		return 1;
	}
	printf("found a virtio-blk device\n");
	uint32_t f0;
	check("init", virtio_blk_init(F_BLK_FLUSH, &f0), 0);

	uint64_t capacity = vrd(CONFIG) | ((uint64_t)vrd(CONFIG + 4) << 32);
	printf("capacity %lu sectors\n", capacity);
	check("blk_size", vrd(CONFIG + 0x14), 512);

	check("read sector 0", virtio_blk_request(T_IN, 0, buf, 512), S_OK);
	printf("sector 0:");
	for (int i = 0; i < 16; i++)
		printf(" %02x", buf[i]);
	printf("\nsector 0 fnv1a %08x\n", fnv1a(buf, 512));
	check("used-buffer interrupt", virtio_last_isr & 1, 1);
	check("used length", USED->ring[0].len >= 1, 1);

	for (int i = 0; i < 512; i++)
		pattern[i] = (uint8_t)(i * 3 + 0x41);
	memcpy(buf, pattern, 512);
	check("write sector 1", virtio_blk_request(T_OUT, 1, buf, 512), S_OK);
	check("flush", f0 & F_BLK_FLUSH ? virtio_blk_request(T_FLUSH, 0, 0, 0) : S_OK, S_OK);
	memset(buf, 0, 512);
	check("read sector 1", virtio_blk_request(T_IN, 1, buf, 512), S_OK);
	check("sector 1 read back", memcmp(buf, pattern, 512), 0);
	printf("sector 1 fnv1a %08x\n", fnv1a(buf, 512));

	check("read past the end", virtio_blk_request(T_IN, capacity, buf, 512), S_IOERR);
	check("unknown request type", virtio_blk_request(0x1234, 0, buf, 512), S_UNSUPP);
	check("device still healthy", vrd(STATUS) & S_NEEDS_RESET, 0);
	return check_summary();
}
