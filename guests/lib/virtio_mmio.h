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

#endif
