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

static struct req_hdr hdr __attribute__((aligned(16)));
static uint8_t buf[512] __attribute__((aligned(512)));
static uint8_t pattern[512];
static volatile uint8_t status_byte;
static uintptr_t base;
static uint16_t avail_idx, used_seen;
static uint32_t last_isr;

static uint32_t rd(unsigned off) { return mmio_read32(base + off); }
static void wr(unsigned off, uint32_t v) { mmio_write32(base + off, v); }

static int find_blk(void)
{
	for (int i = 0; i < VIRTIO_SLOTS; i++) {
		uintptr_t b = VIRTIO_BASE + i * VIRTIO_STRIDE;
		if (mmio_read32(b + MAGIC_VALUE) == 0x74726976 && mmio_read32(b + DEVICE_ID) == 2) {
			base = b;
			return 1;
		}
	}
	return 0;
}

/* Brings the device up; returns 0 or a nonzero step number that failed. */
static int init(uint32_t *features0)
{
	uint32_t version = rd(VERSION);
	wr(STATUS, 0);
	wr(STATUS, S_ACKNOWLEDGE);
	wr(STATUS, S_ACKNOWLEDGE | S_DRIVER);
	wr(DEVICE_FEATURES_SEL, 0);
	uint32_t f0 = rd(DEVICE_FEATURES) & F_BLK_FLUSH;
	*features0 = f0;
	wr(DRIVER_FEATURES_SEL, 0);
	wr(DRIVER_FEATURES, f0);
	if (version == 2) {
		wr(DEVICE_FEATURES_SEL, 1);
		if (!(rd(DEVICE_FEATURES) & F_VERSION_1))
			return 1;
		wr(DRIVER_FEATURES_SEL, 1);
		wr(DRIVER_FEATURES, F_VERSION_1);
		wr(STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
		if (!(rd(STATUS) & S_FEATURES_OK))
			return 2;
	} else if (version == 1) {
		wr(GUEST_PAGE_SIZE, PAGE);
	} else {
		return 3;
	}
	wr(QUEUE_SEL, 0);
	if (version == 2 ? rd(QUEUE_READY) : rd(QUEUE_PFN))
		return 4;
	if (rd(QUEUE_NUM_MAX) < QSIZE)
		return 5;
	wr(QUEUE_NUM, QSIZE);
	if (version == 2) {
		uint64_t d = (uintptr_t)DESCS, a = (uintptr_t)AVAIL, u = (uintptr_t)USED;
		wr(QUEUE_DESC_LOW, (uint32_t)d);
		wr(QUEUE_DESC_HIGH, (uint32_t)(d >> 32));
		wr(QUEUE_DRIVER_LOW, (uint32_t)a);
		wr(QUEUE_DRIVER_HIGH, (uint32_t)(a >> 32));
		wr(QUEUE_DEVICE_LOW, (uint32_t)u);
		wr(QUEUE_DEVICE_HIGH, (uint32_t)(u >> 32));
		wr(QUEUE_READY, 1);
	} else {
		wr(QUEUE_ALIGN, PAGE);
		wr(QUEUE_PFN, (uint32_t)((uintptr_t)ring_mem / PAGE));
	}
	wr(STATUS, rd(STATUS) | S_DRIVER_OK);
	if (rd(STATUS) & S_NEEDS_RESET)
		return 6;
	return 0;
}

/* One request: header, optional data buffer, status. Returns the status
 * byte, or 0x100 if the device did not answer within a second. */
static unsigned request(uint32_t type, uint64_t sector, void *data, uint32_t len)
{
	hdr.type = type;
	hdr.reserved = 0;
	hdr.sector = sector;
	status_byte = 0xff;
	DESCS[0].addr = (uintptr_t)&hdr;
	DESCS[0].len = sizeof(hdr);
	DESCS[0].flags = DESC_F_NEXT;
	DESCS[0].next = data ? 1 : 2;
	if (data) {
		DESCS[1].addr = (uintptr_t)data;
		DESCS[1].len = len;
		DESCS[1].flags = DESC_F_NEXT | (type == T_OUT ? 0 : DESC_F_WRITE);
		DESCS[1].next = 2;
	}
	DESCS[2].addr = (uintptr_t)&status_byte;
	DESCS[2].len = 1;
	DESCS[2].flags = DESC_F_WRITE;
	DESCS[2].next = 0;
	AVAIL->ring[avail_idx % QSIZE] = 0;
	__sync_synchronize();
	AVAIL->idx = ++avail_idx;
	__sync_synchronize();
	wr(QUEUE_NOTIFY, 0);

	uint64_t deadline = mtime_read() + MTIME_HZ;
	while (USED->idx == used_seen) {
		if (mtime_read() > deadline)
			return 0x100;
	}
	__sync_synchronize();
	used_seen++;
	last_isr = rd(INTERRUPT_STATUS);
	wr(INTERRUPT_ACK, last_isr);
	return status_byte;
}

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
	if (!find_blk()) {
		printf("no virtio-blk device found\n");
		return 1;
	}
	printf("found a virtio-blk device\n");
	uint32_t f0;
	check("init", init(&f0), 0);

	uint64_t capacity = rd(CONFIG) | ((uint64_t)rd(CONFIG + 4) << 32);
	printf("capacity %lu sectors\n", capacity);
	check("blk_size", rd(CONFIG + 0x14), 512);

	check("read sector 0", request(T_IN, 0, buf, 512), S_OK);
	printf("sector 0:");
	for (int i = 0; i < 16; i++)
		printf(" %02x", buf[i]);
	printf("\nsector 0 fnv1a %08x\n", fnv1a(buf, 512));
	check("used-buffer interrupt", last_isr & 1, 1);
	check("used length", USED->ring[0].len >= 1, 1);

	for (int i = 0; i < 512; i++)
		pattern[i] = (uint8_t)(i * 3 + 0x41);
	memcpy(buf, pattern, 512);
	check("write sector 1", request(T_OUT, 1, buf, 512), S_OK);
	check("flush", f0 & F_BLK_FLUSH ? request(T_FLUSH, 0, 0, 0) : S_OK, S_OK);
	memset(buf, 0, 512);
	check("read sector 1", request(T_IN, 1, buf, 512), S_OK);
	check("sector 1 read back", memcmp(buf, pattern, 512), 0);
	printf("sector 1 fnv1a %08x\n", fnv1a(buf, 512));

	check("read past the end", request(T_IN, capacity, buf, 512), S_IOERR);
	check("unknown request type", request(0x1234, 0, buf, 512), S_UNSUPP);
	check("device still healthy", rd(STATUS) & S_NEEDS_RESET, 0);
	return check_summary();
}
