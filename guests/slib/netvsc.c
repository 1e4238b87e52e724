/* netvsc.c - the synthetic NIC driver (see netvsc.h). */
#include "netvsc.h"

const uint8_t netvsc_class_id[16] = {
	0x63, 0x51, 0x61, 0xf8, 0x3e, 0xdf, 0xc5, 0x46, 0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e,
};

/* NVSP (hyperv_net.h) */
enum {
	NVSP_MSG_TYPE_INIT = 1, NVSP_MSG_TYPE_INIT_COMPLETE = 2,
	NVSP_MSG1_TYPE_SEND_NDIS_VER = 100, NVSP_MSG1_TYPE_SEND_RECV_BUF, NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE,
	NVSP_MSG1_TYPE_REVOKE_RECV_BUF, NVSP_MSG1_TYPE_SEND_SEND_BUF, NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE,
	NVSP_MSG1_TYPE_REVOKE_SEND_BUF, NVSP_MSG1_TYPE_SEND_RNDIS_PKT, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE,
	NVSP_MSG2_TYPE_SEND_NDIS_CONFIG = 125,
};
#define NVSP_STAT_SUCCESS 1
#define NVSP_MESSAGE_SIZE 40
#define NETVSC_RECEIVE_BUFFER_ID 0xcafe
#define NETVSC_SEND_BUFFER_ID 0
#define NETVSC_INVALID_INDEX 0xffffffffu
static const uint32_t nvsp_versions[] = { 0x60001, 0x60000, 0x50000, 0x40000, 0x30002, 0x2 };

/* RNDIS (include/linux/rndis.h) */
#define RNDIS_MSG_PACKET 0x1
#define RNDIS_MSG_INIT 0x2
#define RNDIS_MSG_HALT 0x3
#define RNDIS_MSG_QUERY 0x4
#define RNDIS_MSG_SET 0x5
#define RNDIS_MSG_COMPLETION 0x80000000u
#define RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE 0x00010106
#define RNDIS_OID_GEN_LINK_SPEED 0x00010107
#define RNDIS_OID_GEN_CURRENT_PACKET_FILTER 0x0001010e
#define RNDIS_OID_GEN_MEDIA_CONNECT_STATUS 0x00010114
#define RNDIS_OID_802_3_PERMANENT_ADDRESS 0x01010101
#define RNDIS_PACKET_TYPE_DIRECTED 0x1
#define RNDIS_PACKET_TYPE_ALL_MULTICAST 0x4
#define RNDIS_PACKET_TYPE_BROADCAST 0x8
#define RNDIS_HEADER 8
#define RNDIS_PACKET 36		/* sizeof(struct rndis_packet) */

#define CHANNEL_DATA 0
#define CHANNEL_CONTROL 1

static uint8_t rings[2 * NETVSC_RING_SIZE] __attribute__((aligned(4096)));
static uint8_t recv_buf[64 * 1024] __attribute__((aligned(4096)));
static uint8_t send_buf[64 * 1024] __attribute__((aligned(4096)));
static uint8_t control[4096] __attribute__((aligned(4096)));	/* one RNDIS control message, in its own page */

/* What the receive path last saw of completions and control answers. */
static struct {
	uint64_t comp_tid;
	int comp_ready;
	uint32_t comp[NVSP_MESSAGE_SIZE / 4];
	int ctl_ready;
	uint32_t ctl[64];
} seen;

static uint32_t u32_at(const void *p) { return *(const uint32_t *)p; }

/* One RNDIS message the host wrote into the receive buffer. */
static void rndis_in(struct netvsc *n, const uint8_t *m, uint32_t len)
{
	if (len < RNDIS_HEADER || u32_at(m + 4) > len)
		goto drop;
	uint32_t type = u32_at(m), mlen = u32_at(m + 4);
	if (type == RNDIS_MSG_PACKET) {
		if (mlen < RNDIS_HEADER + RNDIS_PACKET)
			goto drop;
		uint32_t off = u32_at(m + 8), dlen = u32_at(m + 12);
		if (off > mlen - RNDIS_HEADER || dlen > mlen - RNDIS_HEADER - off || dlen > NETVSC_MAX_FRAME)
			goto drop;
		if (n->rxq_count == NETVSC_RX_QUEUE)
			goto drop;
		uint32_t slot = (n->rxq_head + n->rxq_count++) % NETVSC_RX_QUEUE;
		memcpy(n->rxq[slot], m + RNDIS_HEADER + off, dlen);
		n->rxq_len[slot] = dlen;
		n->rx_frames++;
		return;
	}
	if (type & RNDIS_MSG_COMPLETION) {
		n->control_msgs++;
		memcpy(seen.ctl, m, mlen < sizeof seen.ctl ? mlen : sizeof seen.ctl);
		seen.ctl_ready = 1;
		return;
	}
	return;	/* an indication: nothing we act on */
drop:
	n->rx_dropped++;
}

/*
 * One packet from the host, waiting for it at most `ticks` (0: not at all): a completion is
 * noted, a transfer-page packet's RNDIS messages are taken out of their
 * receive sections (each range checked as netvsc_receive checks it) and the
 * packet completed back, so the host can use the sections again.
 * 1: a packet, 0: none (not waiting), < 0: error or timeout (VMBUS_ETIMEDOUT).
 */
static int poll_one(struct netvsc *n, uint64_t ticks)
{
	static uint64_t pkt[64];
	uint32_t len;
	int r = ticks ? vmbus_recvpacket_raw_wait_until(&n->ch, pkt, sizeof pkt, &len, ticks) : vmbus_recvpacket_raw(&n->ch, pkt, sizeof pkt, &len);
	if (r <= 0)
		return r;
	const struct vmpacket_descriptor *d = (const void *)pkt;
	const uint8_t *p = (const uint8_t *)pkt;
	uint32_t off = (uint32_t)d->offset8 << 3;
	if (len - off < 8)
		return 1;
	if (d->type == VM_PKT_COMP) {
		memcpy(seen.comp, p + off, len - off < NVSP_MESSAGE_SIZE ? len - off : NVSP_MESSAGE_SIZE);
		seen.comp_tid = d->trans_id;
		seen.comp_ready = 1;
		return 1;
	}
	if (d->type != VM_PKT_DATA_USING_XFER_PAGES || u32_at(p + off) != NVSP_MSG1_TYPE_SEND_RNDIS_PKT)
		return 1;
	uint32_t status = NVSP_STAT_SUCCESS, count = u32_at(p + 20);
	if (*(const uint16_t *)(p + 16) != NETVSC_RECEIVE_BUFFER_ID || 24 + 8 * count > off) {
		n->rx_dropped++;
		status = NVSP_STAT_SUCCESS + 1;
	} else {
		for (uint32_t i = 0; i < count; i++) {
			uint32_t bytes = u32_at(p + 24 + 8 * i), at = u32_at(p + 28 + 8 * i);
			if (at > sizeof recv_buf || bytes > sizeof recv_buf - at || bytes > n->recv_section_size) {
				n->rx_dropped++;
				status = NVSP_STAT_SUCCESS + 1;
				continue;
			}
			rndis_in(n, recv_buf + at, bytes);
		}
	}
	uint32_t comp[NVSP_MESSAGE_SIZE / 4] = { NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, status };
	r = vmbus_sendpacket_wait(&n->ch, comp, sizeof comp, d->trans_id, VM_PKT_COMP, 0);
	return r ? r : 1;
}

/* Takes packets until the completion of `tid` (and, with `ctl`, a control answer) has come. */
static int wait_completion(struct netvsc *n, uint64_t tid, int ctl)
{
	for (;;) {
		if (seen.comp_ready && seen.comp_tid == tid && (!ctl || seen.ctl_ready))
			return 0;
		int r = poll_one(n, VMBUS_TIMEOUT_TICKS);
		if (r < 0)
			return r;
	}
}

/* An NVSP message (inband) that asks for a completion; the completion's message in seen.comp. */
static int nvsp_request(struct netvsc *n, uint32_t *msg, uint32_t want)
{
	uint64_t tid = ++n->next_id;
	seen.comp_ready = 0;
	int r = vmbus_sendpacket_wait(&n->ch, msg, NVSP_MESSAGE_SIZE, tid, VM_PKT_DATA_INBAND,
				      VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	if (r || (r = wait_completion(n, tid, 0)))
		return r;
	return seen.comp[0] == want ? 0 : VMBUS_EIO;
}

static int nvsp_note(struct netvsc *n, uint32_t *msg)
{
	return vmbus_sendpacket_wait(&n->ch, msg, NVSP_MESSAGE_SIZE, ++n->next_id, VM_PKT_DATA_INBAND, 0);
}

/*
 * An RNDIS control request (rndis_filter_send_request): the message in its
 * own page, named by a GPA-direct packet on the control channel; waits for
 * the NVSP completion and the answer (through the receive buffer).
 */
static int rndis_request(struct netvsc *n, uint32_t type, const uint32_t *body, uint32_t words)
{
	uint32_t *m = (uint32_t *)control;
	uint32_t len = RNDIS_HEADER + 4 * words;
	m[0] = type;
	m[1] = len;
	memcpy(&m[2], body, 4 * words);
	struct vmbus_packet_mpb_array mpb;
	mpb.rangecount = 1;
	mpb.len = len;
	mpb.offset = 0;
	mpb.pfn_array[0] = (uintptr_t)control >> 12;
	uint32_t nvsp[NVSP_MESSAGE_SIZE / 4] = { NVSP_MSG1_TYPE_SEND_RNDIS_PKT, CHANNEL_CONTROL, NETVSC_INVALID_INDEX, 0 };
	uint64_t tid = ++n->next_id;
	seen.comp_ready = seen.ctl_ready = 0;
	int r = vmbus_sendpacket_mpb_desc(&n->ch, &mpb, 40, nvsp, sizeof nvsp, tid);
	if (r || (r = wait_completion(n, tid, 1)))
		return r;
	if (seen.comp[1] != NVSP_STAT_SUCCESS || seen.ctl[0] != (type | RNDIS_MSG_COMPLETION) || seen.ctl[2] != body[0])
		return VMBUS_EIO;
	return seen.ctl[3] ? VMBUS_EREFUSED : 0;	/* status */
}

/* RNDIS QUERY of `oid`: up to `max` bytes of its answer into `out`. */
static int rndis_query(struct netvsc *n, uint32_t oid, void *out, uint32_t max)
{
	uint32_t q[5] = { ++n->rndis_req_id, oid, 0, 20, 0 };	/* req_id, oid, info_buflen, info_buf_offset, dev_vc_handle */
	int r = rndis_request(n, RNDIS_MSG_QUERY, q, 5);
	if (r)
		return r;
	uint32_t buflen = seen.ctl[4], off = seen.ctl[5];	/* offsets from req_id, i.e. from byte 8 */
	if (buflen > max || off < 16 || RNDIS_HEADER + off + buflen > sizeof seen.ctl)
		return VMBUS_EIO;
	memcpy(out, (const uint8_t *)seen.ctl + RNDIS_HEADER + off, buflen);
	return (int)buflen;
}

#define TRY(what, expr) do { int r_ = (expr); if (r_ < 0) { printf("FAIL netvsc: %s (%d)\n", what, r_); return r_; } } while (0)

int netvsc_open(struct netvsc *n, const struct vmbus_offer *offer)
{
	memset(n, 0, sizeof *n);
	TRY("open channel", vmbus_open(&n->ch, offer, rings, NETVSC_RING_SIZE, NETVSC_RING_SIZE, 0, 0));

	/* netvsc_connect_vsp: NVSP INIT with min = max, newest first */
	for (unsigned i = 0; i < sizeof nvsp_versions / sizeof nvsp_versions[0] && !n->nvsp_version; i++) {
		uint32_t m[NVSP_MESSAGE_SIZE / 4] = { NVSP_MSG_TYPE_INIT, nvsp_versions[i], nvsp_versions[i] };
		TRY("NVSP INIT", nvsp_request(n, m, NVSP_MSG_TYPE_INIT_COMPLETE));
		if (seen.comp[3] == NVSP_STAT_SUCCESS)	/* init_complete.status */
			n->nvsp_version = nvsp_versions[i];
	}
	if (!n->nvsp_version) {
		printf("FAIL netvsc: no NVSP version agreed\n");
		return VMBUS_EREFUSED;
	}
	if (n->nvsp_version >= 0x30002) {
		uint32_t m[NVSP_MESSAGE_SIZE / 4] = { NVSP_MSG2_TYPE_SEND_NDIS_CONFIG, 1500 + 14 };	/* mtu, then capabilities 0 */
		TRY("NDIS config", nvsp_note(n, m));
	}
	uint32_t ndis[NVSP_MESSAGE_SIZE / 4] = { NVSP_MSG1_TYPE_SEND_NDIS_VER, 6, n->nvsp_version <= 0x40000 ? 1 : 30 };
	TRY("NDIS version", nvsp_note(n, ndis));

	/* netvsc_init_buf: the receive buffer, then the send buffer */
	TRY("receive buffer GPADL", vmbus_establish_gpadl(offer->child_relid, recv_buf, sizeof recv_buf, &n->recv_gpadl));
	uint32_t rb[NVSP_MESSAGE_SIZE / 4] = { NVSP_MSG1_TYPE_SEND_RECV_BUF, n->recv_gpadl, NETVSC_RECEIVE_BUFFER_ID };
	TRY("SEND_RECV_BUF", nvsp_request(n, rb, NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE));
	/* status, num_sections, sections[0] {offset, sub_alloc_size, num_sub_allocs, end_offset} */
	if (seen.comp[1] != NVSP_STAT_SUCCESS || seen.comp[2] != 1 || seen.comp[3] != 0 || seen.comp[4] < 64 ||
	    (uint64_t)seen.comp[4] * seen.comp[5] > sizeof recv_buf) {
		printf("FAIL netvsc: receive buffer refused or badly cut (status %u)\n", seen.comp[1]);
		return VMBUS_EREFUSED;
	}
	n->recv_section_size = seen.comp[4];
	n->recv_sections = seen.comp[5];
	TRY("send buffer GPADL", vmbus_establish_gpadl(offer->child_relid, send_buf, sizeof send_buf, &n->send_gpadl));
	uint32_t sb[NVSP_MESSAGE_SIZE / 4] = { NVSP_MSG1_TYPE_SEND_SEND_BUF, n->send_gpadl, NETVSC_SEND_BUFFER_ID };
	TRY("SEND_SEND_BUF", nvsp_request(n, sb, NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE));
	if (seen.comp[1] != NVSP_STAT_SUCCESS || seen.comp[2] < RNDIS_HEADER + RNDIS_PACKET + NETVSC_MAX_FRAME ||
	    seen.comp[2] > sizeof send_buf) {
		printf("FAIL netvsc: send buffer refused (status %u)\n", seen.comp[1]);
		return VMBUS_EREFUSED;
	}
	n->send_section_size = seen.comp[2];
	n->send_sections = sizeof send_buf / n->send_section_size;

	/* rndis_filter_device_add */
	uint32_t init[4] = { ++n->rndis_req_id, 1, 0, 0x4000 };	/* req_id, major, minor, max_xfer_size */
	TRY("RNDIS INITIALIZE", rndis_request(n, RNDIS_MSG_INIT, init, 4));
	TRY("RNDIS QUERY MAC", rndis_query(n, RNDIS_OID_802_3_PERMANENT_ADDRESS, n->mac, 6));
	TRY("RNDIS QUERY MTU", rndis_query(n, RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE, &n->mtu, 4));
	TRY("RNDIS QUERY link", rndis_query(n, RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, &n->link_state, 4));
	TRY("RNDIS QUERY speed", rndis_query(n, RNDIS_OID_GEN_LINK_SPEED, &n->link_speed, 4));
	uint32_t filter[6] = { ++n->rndis_req_id, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, 4, 20, 0,
			       RNDIS_PACKET_TYPE_DIRECTED | RNDIS_PACKET_TYPE_ALL_MULTICAST | RNDIS_PACKET_TYPE_BROADCAST };
	TRY("RNDIS SET packet filter", rndis_request(n, RNDIS_MSG_SET, filter, 6));
	return 0;
}

int netvsc_send(struct netvsc *n, const void *frame, uint32_t len)
{
	if (len < 14 || len > NETVSC_MAX_FRAME)
		return VMBUS_ENOBUFS;
	uint32_t section = n->next_section++ % n->send_sections;
	uint32_t *m = (uint32_t *)(send_buf + section * n->send_section_size);
	uint32_t mlen = RNDIS_HEADER + RNDIS_PACKET + len;
	memset(m, 0, RNDIS_HEADER + RNDIS_PACKET);
	m[0] = RNDIS_MSG_PACKET;
	m[1] = mlen;
	m[2] = RNDIS_PACKET;	/* data_offset, from the start of struct rndis_packet */
	m[3] = len;		/* data_len */
	memcpy((uint8_t *)m + RNDIS_HEADER + RNDIS_PACKET, frame, len);
	uint32_t nvsp[NVSP_MESSAGE_SIZE / 4] = { NVSP_MSG1_TYPE_SEND_RNDIS_PKT, CHANNEL_DATA, section, mlen };
	uint64_t tid = ++n->next_id;
	seen.comp_ready = 0;
	int r = vmbus_sendpacket_wait(&n->ch, nvsp, sizeof nvsp, tid, VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	if (r || (r = wait_completion(n, tid, 0)))
		return r;
	if (seen.comp[0] != NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE || seen.comp[1] != NVSP_STAT_SUCCESS)
		return VMBUS_EREFUSED;
	n->tx_frames++;
	return 0;
}

int netvsc_recv(struct netvsc *n, void *frame, uint32_t max, uint64_t ticks)
{
	uint64_t deadline = csr_read(time) + ticks;
	for (;;) {
		if (n->rxq_count) {
			uint32_t slot = n->rxq_head, len = n->rxq_len[slot];
			n->rxq_head = (n->rxq_head + 1) % NETVSC_RX_QUEUE;
			n->rxq_count--;
			if (len > max)
				len = max;
			memcpy(frame, n->rxq[slot], len);
			return (int)len;
		}
		uint64_t now = csr_read(time);
		if (now >= deadline)
			return 0;
		int r = poll_one(n, deadline - now);	/* the caller's deadline, not the library's */
		if (r < 0 && r != VMBUS_ETIMEDOUT)
			return r;
	}
}

int netvsc_close(struct netvsc *n)
{
	if (n->ch.rescinded)
		return VMBUS_ENODEV;	/* the host removed it: closed and released already (vmbus.c) */
	uint32_t halt[1] = { ++n->rndis_req_id };
	uint32_t *m = (uint32_t *)control;
	m[0] = RNDIS_MSG_HALT;	/* no answer: only the NVSP completion */
	m[1] = RNDIS_HEADER + 4;
	m[2] = halt[0];
	struct vmbus_packet_mpb_array mpb;
	mpb.rangecount = 1;
	mpb.len = RNDIS_HEADER + 4;
	mpb.offset = 0;
	mpb.pfn_array[0] = (uintptr_t)control >> 12;
	uint32_t nvsp[NVSP_MESSAGE_SIZE / 4] = { NVSP_MSG1_TYPE_SEND_RNDIS_PKT, CHANNEL_CONTROL, NETVSC_INVALID_INDEX, 0 };
	uint64_t tid = ++n->next_id;
	seen.comp_ready = 0;
	TRY("RNDIS HALT", vmbus_sendpacket_mpb_desc(&n->ch, &mpb, 40, nvsp, sizeof nvsp, tid));
	TRY("RNDIS HALT completion", wait_completion(n, tid, 0));
	/* netvsc_revoke_buf: no completions asked for */
	uint32_t rr[NVSP_MESSAGE_SIZE / 4] = { NVSP_MSG1_TYPE_REVOKE_RECV_BUF, NETVSC_RECEIVE_BUFFER_ID };
	uint32_t rs[NVSP_MESSAGE_SIZE / 4] = { NVSP_MSG1_TYPE_REVOKE_SEND_BUF, NETVSC_SEND_BUFFER_ID };
	TRY("revoke receive buffer", nvsp_note(n, rr));
	TRY("revoke send buffer", nvsp_note(n, rs));
	TRY("close channel", vmbus_close(&n->ch));
	TRY("teardown receive buffer", vmbus_teardown_gpadl(n->ch.offer.child_relid, n->recv_gpadl));
	TRY("teardown send buffer", vmbus_teardown_gpadl(n->ch.offer.child_relid, n->send_gpadl));
	return 0;
}

/* "6.1" for NVSP 0x60001, "5.3" for VMBus 0x50003 */
static const char *version_str(uint32_t v)
{
	static char s[8];
	unsigned major = v >> 16, minor = v & 0xffff;
	if (v < 0x10000)
		major = v, minor = 0;	/* NVSP_PROTOCOL_VERSION_1 is 2 */
	s[0] = '0' + major % 10;
	s[1] = '.';
	s[2] = '0' + minor % 10;
	s[3] = 0;
	return s;
}

int netvsc_probe(struct netvsc *n, uint64_t wait_ticks)
{
	uint32_t version;
	int r = vmbus_connect(&version);
	if (r) {
		printf("FAIL vmbus: no connection (%d)\n", r);
		return r;
	}
	printf("vmbus: connected, protocol %s\n", version_str(version));
	struct vmbus_offer offers[8];
	int count = vmbus_request_offers(offers, 8), nic = -1;
	for (int i = 0; i < count && nic < 0; i++)
		if (vmbus_guid_eq(offers[i].if_type, netvsc_class_id))
			nic = i;
	if (nic < 0 && wait_ticks) {
		/* the host may add one while we run (hv control add-nic) */
		printf("vmbus: no synthetic NIC among %d offers: waiting for one\n", count);
		if (vmbus_wait_offer(netvsc_class_id, &offers[0], wait_ticks) == 0)
			nic = 0;
	}
	if (nic < 0) {
		printf("FAIL vmbus: no synthetic NIC among %d offers\n", count);
		return VMBUS_EIO;
	}
	char inst[37];
	vmbus_guid_str(offers[nic].if_instance, inst);
	printf("vmbus: NIC offered, relid %u, instance %s\n", offers[nic].child_relid, inst);
	if ((r = netvsc_open(n, &offers[nic])))
		return r;
	printf("netvsc: NVSP %s, receive buffer %u sections of %u bytes, send buffer %u sections of %u\n", version_str(n->nvsp_version),
	       n->recv_sections, n->recv_section_size, n->send_sections, n->send_section_size);
	const uint8_t *m = n->mac;
	printf("netvsc: MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, link %s, %u Mbit/s\n", m[0], m[1], m[2], m[3], m[4], m[5],
	       n->mtu, n->link_state == 0 ? "up" : "down", n->link_speed / 10000);
	return 0;
}
