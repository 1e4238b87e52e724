/* storvsc.c - the synthetic SCSI disk driver (see storvsc.h). */
#include "storvsc.h"

const uint8_t storvsc_class_id[16] = {
	0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d, 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f,
};

enum {
	VSTOR_OPERATION_COMPLETE_IO = 1,
	VSTOR_OPERATION_EXECUTE_SRB = 3,
	VSTOR_OPERATION_BEGIN_INITIALIZATION = 7,
	VSTOR_OPERATION_END_INITIALIZATION = 8,
	VSTOR_OPERATION_QUERY_PROTOCOL_VERSION = 9,
	VSTOR_OPERATION_QUERY_PROPERTIES = 10,
};
#define REQUEST_COMPLETION_FLAG 1
#define VMBUS_RQST_INIT 0xfffffffffffffffeULL	/* Linux's id for the initialization packets */

struct vmscsi_request {
	uint16_t length;
	uint8_t srb_status;
	uint8_t scsi_status;
	uint8_t port_number, path_id, target_id, lun;
	uint8_t cdb_length;
	uint8_t sense_info_length;
	uint8_t data_in;
	uint8_t reserved;
	uint32_t data_transfer_length;
	union {
		uint8_t cdb[16];
		uint8_t sense_data[20];
	};
	uint16_t reserve;	/* the win8 extension */
	uint8_t queue_tag;
	uint8_t queue_action;
	uint32_t srb_flags;
	uint32_t time_out_value;
	uint32_t queue_sort_ey;
} __attribute__((packed));

struct vstor_packet {
	uint32_t operation;
	uint32_t flags;
	uint32_t status;
	union {
		struct vmscsi_request vm_srb;
		struct {
			uint32_t reserved;
			uint16_t max_channel_cnt;
			uint16_t reserved1;
			uint32_t flags;
			uint32_t max_transfer_bytes;
			uint64_t reserved2;
		} __attribute__((packed)) props;
		struct {
			uint16_t major_minor;
			uint16_t revision;
		} __attribute__((packed)) version;
		uint8_t buffer[0x34];
	};
} __attribute__((packed));

_Static_assert(sizeof(struct vmscsi_request) == 0x34, "vmscsi_request");
_Static_assert(sizeof(struct vstor_packet) == 64, "vstor_packet");

#define SRB_FLAGS_DATA_IN  0x40
#define SRB_FLAGS_DATA_OUT 0x80
#define SRB_FLAGS_DISABLE_SYNCH_TRANSFER 0x08

static const uint16_t protocol_version[] = { 0x0602, 0x0600, 0x0501 };	/* WIN10, WIN8_1, WIN8 */
static uint8_t rings[2 * STORVSC_RING_SIZE] __attribute__((aligned(4096)));

/* Sends `pkt` and waits for the completion carrying `id`; the answer replaces `pkt`. */
static int exchange(struct storvsc *s, struct vstor_packet *pkt, struct vmbus_packet_mpb_array *mpb, uint32_t mpb_size,
		    uint64_t id)
{
	pkt->flags = REQUEST_COMPLETION_FLAG;
	int r = mpb ? vmbus_sendpacket_mpb_desc(&s->ch, mpb, mpb_size, pkt, sizeof *pkt, id)
		    : vmbus_sendpacket_wait(&s->ch, pkt, sizeof *pkt, id, VM_PKT_DATA_INBAND,
					    VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	if (r)
		return r;
	for (;;) {
		struct vstor_packet in;
		uint32_t len;
		uint64_t tid;
		if ((r = vmbus_recvpacket_wait(&s->ch, &in, sizeof in, &len, &tid)) < 0)
			return r;
		if (len < sizeof in || tid != id)
			continue;	/* storvsc_on_channel_callback: not ours, or too short */
		*pkt = in;
		return 0;
	}
}

/* storvsc_execute_vstor_op */
static int vstor_op(struct storvsc *s, struct vstor_packet *pkt, int status_check)
{
	int r = exchange(s, pkt, 0, 0, VMBUS_RQST_INIT);
	if (r)
		return r;
	if (status_check && (pkt->operation != VSTOR_OPERATION_COMPLETE_IO || pkt->status != 0))
		return VMBUS_EREFUSED;
	return 0;
}

/* storvsc_connect_to_vsp + storvsc_channel_init */
int storvsc_open(struct storvsc *s, const struct vmbus_offer *offer)
{
	uint8_t props[24] = { 0 };	/* struct vmstorage_channel_properties as OPENCHANNEL userdata */
	memset(s, 0, sizeof *s);
	int r = vmbus_open(&s->ch, offer, rings, STORVSC_RING_SIZE, STORVSC_RING_SIZE, props, sizeof props);
	if (r)
		return r;
	struct vstor_packet p;
	memset(&p, 0, sizeof p);
	p.operation = VSTOR_OPERATION_BEGIN_INITIALIZATION;
	if ((r = vstor_op(s, &p, 1)))
		return r;
	for (unsigned i = 0; i < sizeof protocol_version / sizeof protocol_version[0]; i++) {
		memset(&p, 0, sizeof p);
		p.operation = VSTOR_OPERATION_QUERY_PROTOCOL_VERSION;
		p.version.major_minor = protocol_version[i];
		if ((r = vstor_op(s, &p, 0)))
			return r;
		if (p.operation != VSTOR_OPERATION_COMPLETE_IO)
			return VMBUS_EREFUSED;
		if (p.status == 0) {
			s->version = protocol_version[i];
			break;
		}
	}
	if (!s->version)
		return VMBUS_EREFUSED;	/* "Obsolete Hyper-V version" */
	memset(&p, 0, sizeof p);
	p.operation = VSTOR_OPERATION_QUERY_PROPERTIES;
	if ((r = vstor_op(s, &p, 1)))
		return r;
	s->max_transfer_bytes = p.props.max_transfer_bytes;
	memset(&p, 0, sizeof p);
	p.operation = VSTOR_OPERATION_END_INITIALIZATION;
	return vstor_op(s, &p, 1);
}

/* storvsc_queuecommand + storvsc_do_io, one command at a time. */
int storvsc_srb(struct storvsc *s, const uint8_t *cdb, int cdb_len, void *buf, uint32_t len, int dir,
		struct srb_result *res)
{
	struct vstor_packet p;
	struct vmbus_packet_mpb_array mpb;
	uint32_t mpb_size = 0;
	if (cdb_len > 16)
		return VMBUS_EIO;
	memset(&p, 0, sizeof p);
	p.operation = VSTOR_OPERATION_EXECUTE_SRB;
	p.vm_srb.length = sizeof p.vm_srb;
	p.vm_srb.sense_info_length = sizeof p.vm_srb.sense_data;
	p.vm_srb.cdb_length = cdb_len;
	memcpy(p.vm_srb.cdb, cdb, cdb_len);
	p.vm_srb.data_in = dir;
	p.vm_srb.srb_flags = SRB_FLAGS_DISABLE_SYNCH_TRANSFER |
			     (dir == SRB_DATA_READ ? SRB_FLAGS_DATA_IN : dir == SRB_DATA_WRITE ? SRB_FLAGS_DATA_OUT : 0);
	p.vm_srb.data_transfer_length = len;
	if (len) {
		/* the buffer's pages: one range from its offset in the first page */
		uintptr_t a = (uintptr_t)buf;
		uint32_t off = a & 4095, pages = (off + len + 4095) / 4096;
		if (pages > VMBUS_MPB_PFNS)
			return VMBUS_EIO;
		mpb.rangecount = 1;
		mpb.len = len;
		mpb.offset = off;
		for (uint32_t i = 0; i < pages; i++)
			mpb.pfn_array[i] = (a >> 12) + i;
		mpb_size = 32 + 8 * pages;
	}
	uint64_t id = ++s->next_id;
	int r = exchange(s, &p, len ? &mpb : 0, mpb_size, id);
	if (r)
		return r;
	if (p.operation != VSTOR_OPERATION_COMPLETE_IO || p.status != 0)
		return VMBUS_EREFUSED;
	res->srb_status = p.vm_srb.srb_status;
	res->scsi_status = p.vm_srb.scsi_status;
	res->sense_len = p.vm_srb.sense_info_length < 20 ? p.vm_srb.sense_info_length : 20;
	memcpy(res->sense, p.vm_srb.sense_data, res->sense_len);
	res->transferred = p.vm_srb.data_transfer_length;
	return 0;
}

int storvsc_close(struct storvsc *s) { return vmbus_close(&s->ch); }
