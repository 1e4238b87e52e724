/*
 * vmbus.c - the VMBus client (see vmbus.h): SynIC and interrupts, channel
 * messages, GPADLs, channels; the ring buffers are vmbus_ring.c.
 */
#include "vmbus.h"
#include "vmbus_ring.h"

/* ---- SynIC pages (struct hv_message: 16 slots of 256 B; event flags: 16 bitmaps of 256 B) */
struct hv_message {
	volatile uint32_t message_type;
	uint8_t payload_size;
	volatile uint8_t message_flags;	/* bit 0: msg_pending */
	uint16_t reserved;
	uint64_t sender;
	uint8_t payload[MAX_SIZE_CHANNEL_MESSAGE];
};
static struct hv_message simp[16] __attribute__((aligned(4096)));
static uint32_t siefp[16][64] __attribute__((aligned(4096)));

/* struct hv_input_post_message (TLFS HvPostMessage): 8-aligned, inside one page */
static struct {
	uint32_t connection_id;
	uint32_t reserved;
	uint32_t message_type;
	uint32_t payload_size;
	uint8_t payload[MAX_SIZE_CHANNEL_MESSAGE];
} post_in __attribute__((aligned(256)));

struct vmbus_stats vmbus_stats;
static uint32_t msg_conn_id = VMBUS_MESSAGE_CONNECTION_ID;
static uint32_t next_gpadl = 0xE1E10;	/* Linux's first GPADL handle */

/* Channels by relid, for the event flags the host sets (vmbus_chan_sched). */
#define MAX_RELID 64
static struct vmbus_channel *channels[MAX_RELID];

/* ---- messages taken from the slot, waiting for their reader (Linux queues them to work) */
#define MSGQ 32
static struct {
	int used;
	unsigned seq;
	uint8_t msg[MAX_SIZE_CHANNEL_MESSAGE];
} msgq[MSGQ];
static unsigned msg_seq;

static struct sbiret hv2(unsigned long fid, unsigned long a0, unsigned long a1)
{
	return sbi_ecall(hv_eid(), fid, a0, a1, 0, 0, 0, 0);
}

static long set_reg(uint32_t name, uint64_t value) { return hv2(HV_SYNIC_SET_REGISTER, name, value).error; }

static uint32_t msgtype(const uint8_t *m) { return *(const uint32_t *)m; }

/*
 * Our VP number, as the host numbers this partition's vCPUs (0..n-1): the
 * hart id crt0 keeps in tp. Not hv_vcpu_index(), which is the hypervisor's
 * index over all partitions' vCPUs (Linux: hv_cpu_number_to_vp_number).
 */
static uint32_t vp_number(void)
{
	unsigned long tp;
	__asm__ ("mv %0, tp" : "=r"(tp));
	return (uint32_t)tp;
}

/*
 * vmbus_on_msg_dpc + vmbus_signal_eom: copy the message out, free the slot,
 * and only if the host flagged more (msg_pending) write EOM so it delivers
 * the next. A full queue leaves the message in the slot for later.
 */
static void take_messages(void)
{
	struct hv_message *m = &simp[VMBUS_MESSAGE_SINT];
	while (m->message_type != 0) {
		int free = -1;
		for (int i = 0; i < MSGQ; i++)
			if (!msgq[i].used) {
				free = i;
				break;
			}
		if (free < 0)
			return;
		__sync_synchronize();	/* payload after type */
		memcpy(msgq[free].msg, m->payload, MAX_SIZE_CHANNEL_MESSAGE);
		msgq[free].seq = msg_seq++;
		msgq[free].used = 1;
		vmbus_stats.messages++;
		m->message_type = 0;
		__sync_synchronize();	/* the slot is free before we look at msg_pending */
		if (m->message_flags & 1) {
			vmbus_stats.eoms++;
			set_reg(HV_REGISTER_EOM, 0);
		}
	}
}

/* vmbus_chan_sched: each set flag is a channel the host signalled; mask it and mark it (HV_CALL_BATCHED). */
static void take_events(void)
{
	uint32_t *flags = siefp[VMBUS_MESSAGE_SINT];
	for (int w = 0; w < MAX_RELID / 32; w++) {
		uint32_t bits = __atomic_exchange_n(&flags[w], 0, __ATOMIC_SEQ_CST);
		while (bits) {
			int b = __builtin_ctz(bits);
			bits &= bits - 1;
			struct vmbus_channel *ch = channels[w * 32 + b];
			vmbus_stats.events++;
			if (!ch)
				continue;
			ring_begin_read(&ch->inbound);
			ch->signals_taken++;
			ch->pending = 1;
		}
	}
}

static void vmbus_trap(struct trap_frame *f)
{
	if (f->cause == (CAUSE_INTR | IRQ_S_EXT)) {
		long sints = hv_call(HV_SYNIC_CLAIM, 0).value;	/* the interrupt acknowledge */
		vmbus_stats.interrupts++;
		if (sints & (1 << VMBUS_MESSAGE_SINT)) {
			take_messages();
			take_events();
		}
		return;
	}
	if (f->cause == (CAUSE_INTR | IRQ_S_TIMER)) {
		sbi_set_timer(~0UL);	/* a wait's deadline: the waiter looks at the clock */
		return;
	}
	printf("unexpected S-mode trap: scause 0x%lx sepc 0x%lx stval 0x%lx\n", f->cause, f->epc, f->tval);
	exit(99);
}

static int post(const void *msg, uint32_t size);

/*
 * vmbus_onoffer_rescind, for drivers without sub-channels: the host took a
 * device away. As Linux's driver removal goes: an open channel is closed
 * (vmbus_close_internal posts CLOSECHANNEL; its GPADLs are not torn down,
 * as vmbus_teardown_gpadl posts nothing for a rescinded channel: the host
 * drops a relid's GPADLs when it is released), then the relid is released
 * (hv_process_channel_removal -> vmbus_release_relid), so the host may
 * offer it again. An offer of that relid nobody took yet goes with it.
 * Runs where a waiter looks (process context, SIE clear), not in the
 * interrupt, since it posts messages.
 */
static void take_rescinds(void)
{
	take_messages();
	for (int i = 0; i < MSGQ; i++) {
		if (!msgq[i].used || msgtype(msgq[i].msg) != CHANNELMSG_RESCIND_CHANNELOFFER)
			continue;
		uint32_t relid = *(const uint32_t *)&msgq[i].msg[8];
		msgq[i].used = 0;
		for (int j = 0; j < MSGQ; j++)
			if (msgq[j].used && msgtype(msgq[j].msg) == CHANNELMSG_OFFERCHANNEL && *(const uint32_t *)&msgq[j].msg[184] == relid)
				msgq[j].used = 0;
		struct vmbus_channel *ch = relid < MAX_RELID ? channels[relid] : 0;
		if (ch) {
			channels[relid] = 0;
			ch->open = 0;
			ch->rescinded = 1;	/* its waiter (vmbus_wait_event) gets VMBUS_ENODEV */
			uint32_t close[3] = { CHANNELMSG_CLOSECHANNEL, 0, relid };
			post(close, sizeof close);
		}
		uint32_t released[3] = { CHANNELMSG_RELID_RELEASED, 0, relid };
		post(released, sizeof released);
		vmbus_stats.rescinds++;
	}
}

/*
 * Waits until cond(arg) holds, in WFI with interrupts taken between looks
 * (tested with SIE clear, so an interrupt cannot slip in between the test
 * and the WFI). Rescinds that came meanwhile are handled first.
 * VMBUS_ETIMEDOUT after `ticks` of the time CSR.
 */
int vmbus_wait_until(int (*cond)(void *), void *arg, uint64_t ticks)
{
	uint64_t deadline = csr_read(time) + ticks;
	int r = 0;
	for (;;) {
		csr_clear(sstatus, MSTATUS_SIE);
		take_rescinds();
		if (cond(arg))
			break;
		if (csr_read(time) >= deadline) {
			r = VMBUS_ETIMEDOUT;
			break;
		}
		sbi_set_timer(deadline);
		__asm__ volatile ("wfi");
		csr_set(sstatus, MSTATUS_SIE);	/* what woke us is taken here */
	}
	csr_set(sstatus, MSTATUS_SIE);
	return r;
}

static int wait_for(int (*cond)(void *), void *arg) { return vmbus_wait_until(cond, arg, VMBUS_TIMEOUT_TICKS); }

struct want {
	uint32_t types;		/* bit n: message type n */
	int (*match)(const uint8_t *msg, const void *arg);
	const void *arg;
	int found;
};

/* The oldest queued message of the wanted types that `match` accepts. */
static int have_message(void *p)
{
	struct want *w = p;
	take_messages();	/* the slot may hold one the full queue left there */
	w->found = -1;
	for (int i = 0; i < MSGQ; i++) {
		uint32_t t = msgtype(msgq[i].msg);
		if (!msgq[i].used || t >= 32 || !(w->types & (1u << t)) || (w->match && !w->match(msgq[i].msg, w->arg)))
			continue;
		if (w->found < 0 || (int)(msgq[i].seq - msgq[w->found].seq) < 0)
			w->found = i;
	}
	return w->found >= 0;
}

/* Waits for the oldest message of the `types` (a bit per type) that `match` accepts; copies it to `out`. */
static int wait_message(uint32_t types, int (*match)(const uint8_t *, const void *), const void *arg, uint8_t *out)
{
	struct want w = { types, match, arg, -1 };
	int r = wait_for(have_message, &w);
	if (r)
		return r;
	memcpy(out, msgq[w.found].msg, MAX_SIZE_CHANNEL_MESSAGE);
	msgq[w.found].used = 0;
	return 0;
}
#define T(type) (1u << (type))

/* vmbus_post_msg: the hypercall, retried while the host's queue is full (HV_STATUS_INSUFFICIENT_BUFFERS). */
static int post_msg(uint32_t conn, const void *msg, uint32_t size)
{
	post_in.connection_id = conn;
	post_in.reserved = 0;
	post_in.message_type = 1;	/* VMBus */
	post_in.payload_size = size;
	memcpy(post_in.payload, msg, size);
	for (int tries = 0; tries < 100; tries++) {
		long e = hv_call(HV_POST_MESSAGE, (unsigned long)&post_in).error;
		if (e == SBI_SUCCESS)
			return 0;
		if (e != SBI_ERR_DENIED)
			return VMBUS_EIO;
		vmbus_stats.denied++;
		hv_yield();
	}
	return VMBUS_EIO;
}

/* ---- the bus ---- */

static int synic_enable(void)
{
	if (!hv_available())
		return VMBUS_EIO;
	s_trap_handler = vmbus_trap;
	/* hv_synic_enable_regs: message page, event page, SINT2, then SCONTROL */
	if (set_reg(HV_REGISTER_SIMP, (uint64_t)(uintptr_t)simp | 1) ||
	    set_reg(HV_REGISTER_SIEFP, (uint64_t)(uintptr_t)siefp | 1) ||
	    set_reg(HV_REGISTER_SINT0 + VMBUS_MESSAGE_SINT, 0x20 /* vector; unmasked, no auto-EOI */) ||
	    set_reg(HV_REGISTER_SCONTROL, 1))
		return VMBUS_EIO;
	csr_set(sie, (1UL << IRQ_S_EXT) | (1UL << IRQ_S_TIMER));
	csr_set(sstatus, MSTATUS_SIE);
	return 0;
}

/* Linux's vmbus_versions[], newest first. */
static const uint32_t versions[] = {
	VERSION_WIN10_V5_3, VERSION_WIN10_V5_2, VERSION_WIN10_V5_1, VERSION_WIN10_V5,
	VERSION_WIN10_V4_1, VERSION_WIN10, VERSION_WIN8_1, VERSION_WIN8,
};

/* vmbus_negotiate_version: INITIATE_CONTACT, wait for VERSION_RESPONSE. */
static int negotiate(uint32_t version)
{
	uint8_t msg[40] = { 0 }, resp[MAX_SIZE_CHANNEL_MESSAGE];
	*(uint32_t *)&msg[0] = CHANNELMSG_INITIATE_CONTACT;
	*(uint32_t *)&msg[8] = version;
	*(uint32_t *)&msg[12] = vp_number();	/* target_vcpu: our VP number */
	uint32_t conn = VMBUS_MESSAGE_CONNECTION_ID;
	if (version >= VERSION_WIN10_V5) {
		msg[16] = VMBUS_MESSAGE_SINT;	/* msg_sint; no interrupt page from 5.0 */
		conn = VMBUS_MESSAGE_CONNECTION_ID_4;
	}
	int r = post_msg(conn, msg, sizeof msg);
	if (r)
		return r;
	if ((r = wait_message(T(CHANNELMSG_VERSION_RESPONSE), 0, 0, resp)))
		return r;
	if (!resp[8])	/* version_supported */
		return VMBUS_EREFUSED;
	msg_conn_id = version >= VERSION_WIN10_V5 ? *(uint32_t *)&resp[12] : VMBUS_MESSAGE_CONNECTION_ID;
	return 0;
}

int vmbus_connect(uint32_t *version)
{
	int r = synic_enable();
	if (r)
		return r;
	for (unsigned i = 0; i < sizeof versions / sizeof versions[0]; i++) {
		r = negotiate(versions[i]);
		if (r == VMBUS_EREFUSED)
			continue;	/* the host does not speak it: the next older one */
		if (r == 0)
			*version = versions[i];
		return r;
	}
	return VMBUS_EREFUSED;
}

static int post(const void *msg, uint32_t size) { return post_msg(msg_conn_id, msg, size); }

/* The offer in an OFFERCHANNEL message (struct vmbus_channel_offer_channel). */
static void parse_offer(const uint8_t *m, struct vmbus_offer *o)
{
	memcpy(o->if_type, &m[8], 16);
	memcpy(o->if_instance, &m[24], 16);
	o->child_relid = *(const uint32_t *)&m[184];
	o->dedicated_interrupt = m[190] & 1;
	o->connection_id = *(const uint32_t *)&m[192];
}

int vmbus_request_offers(struct vmbus_offer *offers, int max)
{
	uint32_t hdr[2] = { CHANNELMSG_REQUESTOFFERS, 0 };
	int r = post(hdr, sizeof hdr), n = 0;
	if (r)
		return r;
	/* Offers come in order, then ALLOFFERS_DELIVERED. */
	for (;;) {
		uint8_t m[MAX_SIZE_CHANNEL_MESSAGE];
		if ((r = wait_message(T(CHANNELMSG_OFFERCHANNEL) | T(CHANNELMSG_ALLOFFERS_DELIVERED), 0, 0, m)))
			return r;
		if (msgtype(m) == CHANNELMSG_ALLOFFERS_DELIVERED)
			return n;
		if (n >= max)
			continue;
		parse_offer(m, &offers[n++]);
	}
}

static int same_if_type(const uint8_t *m, const void *if_type) { return vmbus_guid_eq(&m[8], if_type); }

/*
 * A device of class `if_type` the host adds while we run (Linux's
 * vmbus_onoffer after the initial offers): waits up to `ticks` of the time
 * CSR for its OFFERCHANNEL.
 */
int vmbus_wait_offer(const uint8_t *if_type, struct vmbus_offer *o, uint64_t ticks)
{
	struct want w = { T(CHANNELMSG_OFFERCHANNEL), same_if_type, if_type, -1 };
	int r = vmbus_wait_until(have_message, &w, ticks);
	if (r)
		return r;
	parse_offer(msgq[w.found].msg, o);
	msgq[w.found].used = 0;
	return 0;
}

int vmbus_unload(void)
{
	uint32_t hdr[2] = { CHANNELMSG_UNLOAD, 0 };
	uint8_t m[MAX_SIZE_CHANNEL_MESSAGE];
	int r = post(hdr, sizeof hdr);
	return r ? r : wait_message(T(CHANNELMSG_UNLOAD_RESPONSE), 0, 0, m);
}

/* ---- GPADLs ---- */

static int same_u32_at12(const uint8_t *m, const void *arg) { return *(const uint32_t *)&m[12] == *(const uint32_t *)arg; }
static int same_u32_at8(const uint8_t *m, const void *arg) { return *(const uint32_t *)&m[8] == *(const uint32_t *)arg; }

/*
 * vmbus_establish_gpadl (create_gpadl_header): one range of whole pages;
 * as many PFNs as fit in GPADL_HEADER, the rest in GPADL_BODY messages;
 * then wait for GPADL_CREATED.
 */
int vmbus_establish_gpadl(uint32_t relid, void *buf, uint32_t size, uint32_t *gpadl)
{
	uint32_t pages = (size + 4095) / 4096, handle = next_gpadl++;
	uint64_t pfn = (uintptr_t)buf >> 12;
	uint8_t m[MAX_SIZE_CHANNEL_MESSAGE] = { 0 };
	const uint32_t hdr_pfns = (MAX_SIZE_CHANNEL_MESSAGE - 20 - 8) / 8;	/* 26 */
	const uint32_t body_pfns = (MAX_SIZE_CHANNEL_MESSAGE - 16) / 8;	/* 28 */
	uint32_t n = pages < hdr_pfns ? pages : hdr_pfns, sent = 0;
	*(uint32_t *)&m[0] = CHANNELMSG_GPADL_HEADER;
	*(uint32_t *)&m[8] = relid;
	*(uint32_t *)&m[12] = handle;
	*(uint16_t *)&m[16] = 8 + pages * 8;	/* range_buflen */
	*(uint16_t *)&m[18] = 1;		/* rangecount */
	*(uint32_t *)&m[20] = size;		/* byte_count */
	*(uint32_t *)&m[24] = 0;		/* byte_offset */
	for (uint32_t i = 0; i < n; i++)
		*(uint64_t *)&m[28 + 8 * i] = pfn + i;
	int r = post(m, 28 + 8 * n);
	for (sent = n; !r && sent < pages; sent += n) {
		n = pages - sent < body_pfns ? pages - sent : body_pfns;
		memset(m, 0, sizeof m);
		*(uint32_t *)&m[0] = CHANNELMSG_GPADL_BODY;
		*(uint32_t *)&m[12] = handle;
		for (uint32_t i = 0; i < n; i++)
			*(uint64_t *)&m[16 + 8 * i] = pfn + sent + i;
		r = post(m, 16 + 8 * n);
	}
	if (r || (r = wait_message(T(CHANNELMSG_GPADL_CREATED), same_u32_at12, &handle, m)))
		return r;
	if (*(uint32_t *)&m[16])	/* creation_status */
		return VMBUS_EREFUSED;
	*gpadl = handle;
	return 0;
}

int vmbus_teardown_gpadl(uint32_t relid, uint32_t gpadl)
{
	uint32_t msg[4] = { CHANNELMSG_GPADL_TEARDOWN, 0, relid, gpadl };
	uint8_t m[MAX_SIZE_CHANNEL_MESSAGE];
	int r = post(msg, sizeof msg);
	return r ? r : wait_message(T(CHANNELMSG_GPADL_TORNDOWN), same_u32_at8, &gpadl, m);
}

/* ---- channels ---- */

/*
 * __vmbus_open: both rings initialised (hv_ringbuffer_init), one GPADL over
 * them, OPENCHANNEL with the host-bound ring first and the guest-bound ring
 * at downstream_ringbuffer_pageoffset, then OPENCHANNEL_RESULT.
 */
int vmbus_open(struct vmbus_channel *ch, const struct vmbus_offer *offer, void *ring,
	       uint32_t send_size, uint32_t recv_size, const void *userdata, uint32_t udlen)
{
	uint8_t m[MAX_SIZE_CHANNEL_MESSAGE] = { 0 };
	if (offer->child_relid >= MAX_RELID || udlen > 120 || ((uintptr_t)ring | send_size | recv_size) & 4095)
		return VMBUS_EIO;
	memset(ch, 0, sizeof *ch);
	ch->offer = *offer;
	memset(ring, 0, send_size + recv_size);
	ring_init(&ch->outbound, ring, send_size);
	ring_init(&ch->inbound, (uint8_t *)ring + send_size, recv_size);
	int r = vmbus_establish_gpadl(offer->child_relid, ring, send_size + recv_size, &ch->ring_gpadl);
	if (r)
		return r;
	channels[offer->child_relid] = ch;
	uint32_t relid = offer->child_relid;
	*(uint32_t *)&m[0] = CHANNELMSG_OPENCHANNEL;
	*(uint32_t *)&m[8] = relid;
	*(uint32_t *)&m[12] = relid;			/* openid */
	*(uint32_t *)&m[16] = ch->ring_gpadl;
	*(uint32_t *)&m[20] = vp_number();	/* target_vp */
	*(uint32_t *)&m[24] = send_size >> 12;		/* downstream_ringbuffer_pageoffset */
	if (udlen)
		memcpy(&m[28], userdata, udlen);
	if ((r = post(m, 148)) || (r = wait_message(T(CHANNELMSG_OPENCHANNEL_RESULT), same_u32_at12, &relid, m)))
		return r;
	if (*(uint32_t *)&m[16]) {
		channels[relid] = 0;
		vmbus_teardown_gpadl(relid, ch->ring_gpadl);
		return VMBUS_EREFUSED;
	}
	ch->open = 1;
	return 0;
}

/* vmbus_close_internal: CLOSECHANNEL (no answer), then the ring GPADL torn down. A rescinded channel is closed and released already. */
int vmbus_close(struct vmbus_channel *ch)
{
	if (ch->rescinded)
		return VMBUS_ENODEV;
	uint32_t msg[3] = { CHANNELMSG_CLOSECHANNEL, 0, ch->offer.child_relid };
	csr_clear(sstatus, MSTATUS_SIE);
	channels[ch->offer.child_relid] = 0;
	ch->open = 0;
	csr_set(sstatus, MSTATUS_SIE);
	int r = post(msg, sizeof msg);
	return r ? r : vmbus_teardown_gpadl(ch->offer.child_relid, ch->ring_gpadl);
}

/* vmbus_setevent: a dedicated-interrupt channel signals its connection id. */
void vmbus_setevent(struct vmbus_channel *ch)
{
	ch->signals_sent++;
	hv_call(HV_SIGNAL_EVENT, ch->offer.connection_id);
}

static int channel_pending(void *p)
{
	struct vmbus_channel *ch = p;
	return ch->pending || ch->rescinded;
}

int vmbus_wait_event_until(struct vmbus_channel *ch, uint64_t ticks)
{
	int r = vmbus_wait_until(channel_pending, ch, ticks);
	ch->pending = 0;
	return ch->rescinded ? VMBUS_ENODEV : r;
}

int vmbus_wait_event(struct vmbus_channel *ch) { return vmbus_wait_event_until(ch, VMBUS_TIMEOUT_TICKS); }

/* ---- GUIDs ---- */

void vmbus_guid_str(const uint8_t g[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	/* guid_t: the first three fields little-endian, as Linux's %pUl prints it */
	static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	int o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[g[order[i]] >> 4];
		out[o++] = hex[g[order[i]] & 15];
	}
	out[o] = 0;
}

int vmbus_guid_eq(const uint8_t a[16], const uint8_t b[16]) { return memcmp(a, b, 16) == 0; }
