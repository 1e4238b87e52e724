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
#include "guest.h"

#define VIRTIO_BASE   0x10001000UL
#define VIRTIO_STRIDE 0x1000UL
#define VIRTIO_SLOTS  8

#define MAGIC_VALUE         0x000
#define VERSION             0x004
#define DEVICE_ID           0x008
#define DEVICE_FEATURES     0x010
#define DEVICE_FEATURES_SEL 0x014
#define DRIVER_FEATURES     0x020
#define DRIVER_FEATURES_SEL 0x024
#define GUEST_PAGE_SIZE     0x028 /* legacy */
#define QUEUE_SEL           0x030
#define QUEUE_NUM_MAX       0x034
#define QUEUE_NUM           0x038
#define QUEUE_ALIGN         0x03c /* legacy */
#define QUEUE_PFN           0x040 /* legacy */
#define QUEUE_READY         0x044
#define QUEUE_NOTIFY        0x050
#define INTERRUPT_STATUS    0x060
#define INTERRUPT_ACK       0x064
#define STATUS              0x070
#define QUEUE_DESC_LOW      0x080
#define QUEUE_DESC_HIGH     0x084
#define QUEUE_DRIVER_LOW    0x090
#define QUEUE_DRIVER_HIGH   0x094
#define QUEUE_DEVICE_LOW    0x0a0
#define QUEUE_DEVICE_HIGH   0x0a4
#define CONFIG              0x100

#define S_ACKNOWLEDGE 1
#define S_DRIVER      2
#define S_DRIVER_OK   4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 0x40

#define F_BLK_FLUSH   (1u << 9)  /* feature word 0 */
#define F_VERSION_1   (1u << 0)  /* feature word 1 (bit 32) */

#define DESC_F_NEXT  1
#define DESC_F_WRITE 2

#define T_IN    0
#define T_OUT   1
#define T_FLUSH 4
#define S_OK     0
#define S_IOERR  1
#define S_UNSUPP 2

#define QSIZE 8
#define PAGE  4096

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};
struct avail {
	uint16_t flags, idx, ring[QSIZE], used_event;
};
struct used {
	uint16_t flags, idx;
	struct { uint32_t id, len; } ring[QSIZE];
	uint16_t avail_event;
};
struct req_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

/* One layout for both transports: the legacy one (descriptors, then the
 * available ring, then the used ring on the next QueueAlign = 4096 page). */
static uint8_t ring_mem[2 * PAGE] __attribute__((aligned(PAGE)));
#define DESCS ((volatile struct desc *)ring_mem)
#define AVAIL ((volatile struct avail *)(ring_mem + 16 * QSIZE))
#define USED  ((volatile struct used *)(ring_mem + PAGE))

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
