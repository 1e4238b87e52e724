/*
 * disk-bench - the same sequential reads through a synthetic disk
 * (storvsc on VMBus) or an emulated one (virtio-blk over virtio-mmio),
 * for `npm run bench -- vmbus` (bench/vmbus.ts): it uses the virtio-blk
 * disk if the board has one, else the first synthetic disk. The kernel
 * command line says how much: `reqs=N size=BYTES` (defaults 1000 and
 * 4096; size a multiple of 512, at most 64 KiB). It prints
 *
 *   disk-bench: PATH N reads of BYTES bytes in TICKS ticks
 *
 * TICKS of the time CSR (10 MHz) around the reads only. Both drivers do
 * what Linux's do per request: virtio-blk a notify write, then the
 * interrupt status read and acknowledge (vm_interrupt); storvsc a ring
 * write and at most one signal, its completion read from the ring.
 */
#include "bootarg.h"
#include "storvsc.h"
#include "virtio_mmio.h"

#define MAX_SIZE (64 * 1024)
static uint8_t buf[MAX_SIZE] __attribute__((aligned(4096)));

static int virtio_read(uint64_t sector, uint32_t len)
{
	return virtio_blk_request(T_IN, sector, buf, len) == S_OK ? 0 : -1;
}

static struct storvsc s;

static int storvsc_read(uint64_t sector, uint32_t len)
{
	uint8_t cdb[10] = { 0x28 };	/* READ(10) */
	uint16_t blocks = len / 512;
	cdb[2] = sector >> 24; cdb[3] = sector >> 16; cdb[4] = sector >> 8; cdb[5] = sector;
	cdb[7] = blocks >> 8; cdb[8] = blocks;
	struct srb_result r;
	if (storvsc_srb(&s, cdb, 10, buf, len, SRB_DATA_READ, &r) || r.srb_status != SRB_STATUS_SUCCESS)
		return -1;
	return 0;
}

static int open_storvsc(void)
{
	uint32_t version;
	struct vmbus_offer offers[8];
	if (vmbus_connect(&version))
		return -1;
	int n = vmbus_request_offers(offers, 8);
	for (int i = 0; i < n; i++)
		if (vmbus_guid_eq(offers[i].if_type, storvsc_class_id))
			return storvsc_open(&s, &offers[i]);
	return -1;
}

int main(unsigned long hartid, void *dtb)
{
	unsigned long reqs = bootarg(dtb, "reqs=", 1000), size = bootarg(dtb, "size=", 4096);
	if (size == 0 || size % 512 || size > MAX_SIZE) {
		printf("FAIL size=%lu: a multiple of 512 up to %u\n", size, MAX_SIZE);
		return 1;
	}
	const char *path;
	int (*read)(uint64_t, uint32_t);
	uint64_t sectors;	/* reads wrap around the first 16 MiB (the bench's image) */
	if (virtio_find_blk() >= 0) {
		uint32_t f0;
		if (virtio_blk_init(0, &f0)) {
			printf("FAIL virtio-blk init\n");
			return 1;
		}
		path = "virtio-blk";
		read = virtio_read;
	} else if (open_storvsc() == 0) {
		path = "storvsc";
		read = storvsc_read;
	} else {
		printf("FAIL no disk\n");
		return 1;
	}
	sectors = (16 << 20) / 512;
	uint64_t t0 = csr_read(time), sector = 0;
	for (unsigned long i = 0; i < reqs; i++) {
		if (read(sector, size)) {
			printf("FAIL %s read %lu at sector %lu\n", path, i, sector);
			return 1;
		}
		sector = (sector + size / 512) % sectors;
	}
	uint64_t ticks = csr_read(time) - t0;
	printf("disk-bench: %s %lu reads of %lu bytes in %lu ticks\n", path, reqs, size, ticks);
	return 0;
}
