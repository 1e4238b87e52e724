/*
 * vmbus.h - the enlightened guest's VMBus client: the SynIC, channel
 * messages, GPADLs, channels and their ring buffers, in the sequences and
 * layouts of Linux 6.12 (drivers/hv/connection.c vmbus_negotiate_version,
 * channel.c vmbus_establish_gpadl / vmbus_open / vmbus_close,
 * ring_buffer.c hv_ringbuffer_write / hv_ringbuffer_read / hv_pkt_iter_close,
 * include/linux/hyperv.h). The hypervisor's side: docs/vmbus.md.
 *
 * One vCPU (the boot hart) runs the bus: its SynIC takes VMBus messages and
 * channel events on SINT2, raised as a supervisor external interrupt; the
 * interrupt handler copies messages out of the slot (EOM when more wait)
 * and notes signalled channels. Callers block in WFI until what they wait
 * for has arrived, or a timeout (VMBUS_TIMEOUT_TICKS of the time CSR).
 *
 * Needs satp = 0 (or an identity map): GPAs are the buffers' addresses.
 */
#ifndef VMBUS_H
#define VMBUS_H

#include "sbi.h"

/* ---- hv hypercalls for the SynIC (kernel/hypercall/README.md) */
#define HV_SYNIC_GET_REGISTER 0x40
#define HV_SYNIC_SET_REGISTER 0x41
#define HV_POST_MESSAGE       0x42
#define HV_SIGNAL_EVENT       0x43
#define HV_SYNIC_CLAIM        0x44
#define HV_REGISTER_SINT0     0x000A0000
#define HV_REGISTER_SCONTROL  0x000A0010
#define HV_REGISTER_SIEFP     0x000A0012
#define HV_REGISTER_SIMP      0x000A0013
#define HV_REGISTER_EOM       0x000A0014
#define HV_SINT_MASKED        (1UL << 16)
#define VMBUS_MESSAGE_SINT    2
#define VMBUS_MESSAGE_CONNECTION_ID   1
#define VMBUS_MESSAGE_CONNECTION_ID_4 4

/* ---- protocol versions (major << 16 | minor), Linux's vmbus_versions[] */
#define VERSION_WIN8     0x00020004
#define VERSION_WIN8_1   0x00030000
#define VERSION_WIN10    0x00040000
#define VERSION_WIN10_V4_1 0x00040001
#define VERSION_WIN10_V5 0x00050000
#define VERSION_WIN10_V5_1 0x00050001
#define VERSION_WIN10_V5_2 0x00050002
#define VERSION_WIN10_V5_3 0x00050003

/* ---- channel message types (enum vmbus_channel_message_type) */
enum {
	CHANNELMSG_OFFERCHANNEL = 1, CHANNELMSG_RESCIND_CHANNELOFFER, CHANNELMSG_REQUESTOFFERS,
	CHANNELMSG_ALLOFFERS_DELIVERED, CHANNELMSG_OPENCHANNEL, CHANNELMSG_OPENCHANNEL_RESULT,
	CHANNELMSG_CLOSECHANNEL, CHANNELMSG_GPADL_HEADER, CHANNELMSG_GPADL_BODY, CHANNELMSG_GPADL_CREATED,
	CHANNELMSG_GPADL_TEARDOWN, CHANNELMSG_GPADL_TORNDOWN, CHANNELMSG_RELID_RELEASED,
	CHANNELMSG_INITIATE_CONTACT, CHANNELMSG_VERSION_RESPONSE, CHANNELMSG_UNLOAD, CHANNELMSG_UNLOAD_RESPONSE,
};
#define MAX_SIZE_CHANNEL_MESSAGE 240

/* ---- packets (enum vmbus_packet_type, struct vmpacket_descriptor) */
#define VM_PKT_DATA_INBAND             0x6
#define VM_PKT_DATA_USING_XFER_PAGES   0x7
#define VM_PKT_DATA_USING_GPA_DIRECT   0x9
#define VM_PKT_COMP                    0xb
#define VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED 1

struct vmpacket_descriptor {
	uint16_t type;
	uint16_t offset8;
	uint16_t len8;
	uint16_t flags;
	uint64_t trans_id;
} __attribute__((packed));

/* struct vmbus_packet_mpb_array with room for `VMBUS_MPB_PFNS` pages (one range, as Linux sends) */
#define VMBUS_MPB_PFNS 32
struct vmbus_packet_mpb_array {
	struct vmpacket_descriptor d;
	uint32_t reserved;
	uint32_t rangecount;
	uint32_t len;		/* struct hv_mpb_array */
	uint32_t offset;
	uint64_t pfn_array[VMBUS_MPB_PFNS];
} __attribute__((packed));

/* struct hv_ring_buffer: the header page of each ring */
struct hv_ring_buffer {
	volatile uint32_t write_index;
	volatile uint32_t read_index;
	volatile uint32_t interrupt_mask;
	volatile uint32_t pending_send_sz;
	uint32_t reserved1[12];
	volatile uint32_t feature_bits;	/* bit 0: pending_send_sz honoured */
	uint8_t reserved2[4096 - 68];
	uint8_t buffer[];
} __attribute__((packed));

struct vmbus_ring {
	struct hv_ring_buffer *rb;
	uint32_t dsize;		/* data area bytes */
};

/* An offer (struct vmbus_channel_offer_channel, the fields we use). */
struct vmbus_offer {
	uint8_t if_type[16];
	uint8_t if_instance[16];
	uint32_t child_relid;
	uint32_t connection_id;
	uint8_t dedicated_interrupt;
};

struct vmbus_channel {
	struct vmbus_offer offer;
	struct vmbus_ring outbound;	/* guest -> host */
	struct vmbus_ring inbound;	/* host -> guest */
	uint32_t ring_gpadl;
	volatile int pending;		/* the host signalled: the interrupt masked inbound */
	int open;
	volatile int rescinded;		/* the host took the device away (RESCIND_CHANNELOFFER); its relid released */
	/* statistics */
	unsigned long signals_sent, signals_taken, sends_blocked;
};

/* Results: 0 or a positive count on success, < 0 failure. */
#define VMBUS_EAGAIN    -11	/* ring full: retry */
#define VMBUS_ENOBUFS   -105	/* packet larger than the buffer */
#define VMBUS_ETIMEDOUT -110
#define VMBUS_EREFUSED  -111	/* the host answered with a failure status */
#define VMBUS_EIO       -5	/* a hypercall failed, or the ring is corrupt */
#define VMBUS_ENODEV    -19	/* the channel was rescinded */
#define VMBUS_TIMEOUT_TICKS (10 * MTIME_HZ)	/* 10 s of the time CSR: a loaded host may take seconds to answer */

/* ---- the bus */
/* SynIC on, SINT2 unmasked, external interrupts on, then INITIATE_CONTACT
 * newest version first. Returns 0 and the version in *version. */
int vmbus_connect(uint32_t *version);
/* REQUESTOFFERS: up to `max` offers until ALLOFFERS_DELIVERED; returns their number. */
int vmbus_request_offers(struct vmbus_offer *offers, int max);
/* Waits up to `ticks` for the offer of a device of class `if_type` added while we run. */
int vmbus_wait_offer(const uint8_t *if_type, struct vmbus_offer *o, uint64_t ticks);
/* UNLOAD; waits for UNLOAD_RESPONSE. */
int vmbus_unload(void);

/* ---- GPADLs and channels */
int vmbus_establish_gpadl(uint32_t relid, void *buf, uint32_t size, uint32_t *gpadl);
int vmbus_teardown_gpadl(uint32_t relid, uint32_t gpadl);
/* `ring`: send_size + recv_size bytes, page aligned (consecutive pages). */
int vmbus_open(struct vmbus_channel *ch, const struct vmbus_offer *offer, void *ring,
	       uint32_t send_size, uint32_t recv_size, const void *userdata, uint32_t udlen);
int vmbus_close(struct vmbus_channel *ch);

/* ---- packets */
/* vmbus_sendpacket: an inband packet; VMBUS_EAGAIN when the ring has no room. */
int vmbus_sendpacket(struct vmbus_channel *ch, const void *buf, uint32_t len, uint64_t trans_id,
		     uint16_t type, uint16_t flags);
/* vmbus_sendpacket_mpb_desc: `desc` with rangecount and the range set; desc_size its used bytes. */
int vmbus_sendpacket_mpb_desc(struct vmbus_channel *ch, struct vmbus_packet_mpb_array *desc, uint32_t desc_size,
			      const void *buf, uint32_t len, uint64_t trans_id);
/* As the two above, but waits (pending_send_sz, WFI) while the ring is full. */
int vmbus_sendpacket_wait(struct vmbus_channel *ch, const void *buf, uint32_t len, uint64_t trans_id,
			  uint16_t type, uint16_t flags);
/* vmbus_recvpacket: 1 and the payload, 0 when empty, < 0 on error. */
int vmbus_recvpacket(struct vmbus_channel *ch, void *buf, uint32_t buflen, uint32_t *actual, uint64_t *trans_id);
/* vmbus_recvpacket_raw: the whole packet from its descriptor on (transfer-page packets need their header). */
int vmbus_recvpacket_raw(struct vmbus_channel *ch, void *buf, uint32_t buflen, uint32_t *actual);
/* The next packet, waiting for the host's signal if the ring is empty. */
int vmbus_recvpacket_wait(struct vmbus_channel *ch, void *buf, uint32_t buflen, uint32_t *actual, uint64_t *trans_id);
int vmbus_recvpacket_raw_wait(struct vmbus_channel *ch, void *buf, uint32_t buflen, uint32_t *actual);
/* As vmbus_recvpacket_raw_wait, giving up (VMBUS_ETIMEDOUT) after `ticks` of the time CSR. */
int vmbus_recvpacket_raw_wait_until(struct vmbus_channel *ch, void *buf, uint32_t buflen, uint32_t *actual, uint64_t ticks);

/* Waits (WFI, interrupts taken) until cond(arg) holds; VMBUS_ETIMEDOUT after `ticks` of the time CSR. */
int vmbus_wait_until(int (*cond)(void *), void *arg, uint64_t ticks);

/* ---- helpers */
void vmbus_guid_str(const uint8_t guid[16], char out[37]);	/* Linux's %pUl */
int vmbus_guid_eq(const uint8_t a[16], const uint8_t b[16]);
/* Messages taken, EOMs written, SINT interrupts, channel events, posts the host denied (retried). */
struct vmbus_stats {
	unsigned long messages, eoms, interrupts, events, denied, rescinds;
};
extern struct vmbus_stats vmbus_stats;

#endif
