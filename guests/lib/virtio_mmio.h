/*
 * virtio_mmio.h - the virtio-mmio transport (virtio 1.2 section 4.2) and the
 * split virtqueue (2.7) as our guest drivers use them: register offsets of
 * both the modern (version 2) and legacy (version 1) transports, status and
 * feature bits, the ring layout, and virtio-blk request types (5.2.6).
 * One layout serves both transports: descriptors, then the available ring,
 * then the used ring on the next page (legacy QueueAlign = 4096).
 */
#ifndef VIRTIO_MMIO_H
#define VIRTIO_MMIO_H
#include "guest.h"

#define VIRTIO_BASE   0x10001000UL
#define VIRTIO_STRIDE 0x1000UL
#define VIRTIO_SLOTS  8
#define VIRTIO_IRQ0   1 /* slot n: PLIC source 1 + n */

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

/* virtio-blk request types and statuses */
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

static uint8_t ring_mem[2 * PAGE] __attribute__((aligned(PAGE)));
#define DESCS ((volatile struct desc *)ring_mem)
#define AVAIL ((volatile struct avail *)(ring_mem + 16 * QSIZE))
#define USED  ((volatile struct used *)(ring_mem + PAGE))

/* ---- a virtio-blk driver's common steps, on one device and queue 0 ------ */

static uintptr_t vbase;            /* the device's registers */
static struct req_hdr hdr __attribute__((aligned(16)));
static volatile uint8_t status_byte;
static uint16_t avail_idx;

static uint32_t vrd(unsigned off) { return mmio_read32(vbase + off); }
static void vwr(unsigned off, uint32_t v) { mmio_write32(vbase + off, v); }

/* Finds the first virtio-blk device in any slot (QEMU puts -device
 * virtio-blk-device in the highest free one, hv's -drive in slot 0): sets
 * vbase and returns its slot, or -1. */
static int virtio_find_blk(void)
{
	for (int i = 0; i < VIRTIO_SLOTS; i++) {
		uintptr_t b = VIRTIO_BASE + i * VIRTIO_STRIDE;
		if (mmio_read32(b + MAGIC_VALUE) == 0x74726976 && mmio_read32(b + DEVICE_ID) == 2) {
			vbase = b;
			return i;
		}
	}
	return -1;
}

/* Brings the device up on the modern (version 2) or legacy (version 1)
 * transport, accepting the feature-word-0 bits in `want0` the device
 * offers (stored in *got0), with queue 0 on ring_mem. Returns 0, or the
 * number of the step that failed. */
static int virtio_blk_init(uint32_t want0, uint32_t *got0)
{
	uint32_t version = vrd(VERSION);
	vwr(STATUS, 0);
	vwr(STATUS, S_ACKNOWLEDGE);
	vwr(STATUS, S_ACKNOWLEDGE | S_DRIVER);
	vwr(DEVICE_FEATURES_SEL, 0);
	uint32_t f0 = vrd(DEVICE_FEATURES) & want0;
	*got0 = f0;
	vwr(DRIVER_FEATURES_SEL, 0);
	vwr(DRIVER_FEATURES, f0);
	if (version == 2) {
		vwr(DEVICE_FEATURES_SEL, 1);
		if (!(vrd(DEVICE_FEATURES) & F_VERSION_1))
			return 1;
		vwr(DRIVER_FEATURES_SEL, 1);
		vwr(DRIVER_FEATURES, F_VERSION_1);
		vwr(STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
		if (!(vrd(STATUS) & S_FEATURES_OK))
			return 2;
	} else if (version == 1) {
		vwr(GUEST_PAGE_SIZE, PAGE);
	} else {
		return 3;
	}
	vwr(QUEUE_SEL, 0);
	if (version == 2 ? vrd(QUEUE_READY) : vrd(QUEUE_PFN))
		return 4;
	if (vrd(QUEUE_NUM_MAX) < QSIZE)
		return 5;
	vwr(QUEUE_NUM, QSIZE);
	if (version == 2) {
		uint64_t d = (uintptr_t)DESCS, a = (uintptr_t)AVAIL, u = (uintptr_t)USED;
		vwr(QUEUE_DESC_LOW, (uint32_t)d);
		vwr(QUEUE_DESC_HIGH, (uint32_t)(d >> 32));
		vwr(QUEUE_DRIVER_LOW, (uint32_t)a);
		vwr(QUEUE_DRIVER_HIGH, (uint32_t)(a >> 32));
		vwr(QUEUE_DEVICE_LOW, (uint32_t)u);
		vwr(QUEUE_DEVICE_HIGH, (uint32_t)(u >> 32));
		vwr(QUEUE_READY, 1);
	} else {
		vwr(QUEUE_ALIGN, PAGE);
		vwr(QUEUE_PFN, (uint32_t)((uintptr_t)ring_mem / PAGE));
	}
	vwr(STATUS, vrd(STATUS) | S_DRIVER_OK);
	if (vrd(STATUS) & S_NEEDS_RESET)
		return 6;
	return 0;
}

/* Puts one request on queue 0 (header, optional data buffer, status byte,
 * descriptors 0-2) and makes it available; the caller notifies. */
static void virtio_blk_post(uint32_t type, uint64_t sector, void *data, uint32_t len)
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
}

static uint16_t used_seen;         /* used-ring entries consumed */
static uint32_t virtio_last_isr;   /* INTERRUPT_STATUS at the last completion */

/* One request, polled: posts it, notifies queue 0, waits for the used
 * ring, acknowledges the interrupt. Returns the status byte, or 0x100 if
 * the device did not answer within a second. */
__attribute__((unused)) static unsigned virtio_blk_request(uint32_t type, uint64_t sector, void *data, uint32_t len)
{
	virtio_blk_post(type, sector, data, len);
	vwr(QUEUE_NOTIFY, 0);
	uint64_t deadline = mtime_read() + MTIME_HZ;
	while (USED->idx == used_seen) {
		if (mtime_read() > deadline)
			return 0x100;
	}
	__sync_synchronize();
	used_seen++;
	virtio_last_isr = vrd(INTERRUPT_STATUS);
	vwr(INTERRUPT_ACK, virtio_last_isr);
	return status_byte;
}

#endif
