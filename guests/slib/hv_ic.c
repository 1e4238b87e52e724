/*
 * hv_ic.c - the integration components' guest side (see hv_ic.h).
 */
#include "hv_ic.h"
#include "vmbus_ring.h"

#define ICMSGTYPE_NEGOTIATE   0
#define ICMSGTYPE_HEARTBEAT   1
#define ICMSGTYPE_KVPEXCHANGE 2
#define ICMSGTYPE_SHUTDOWN    3
#define ICMSGTYPE_TIMESYNC    4
#define ICMSGHDRFLAG_TRANSACTION 1
#define ICMSGHDRFLAG_RESPONSE    4
#define HV_S_OK   0x00000000u
#define HV_E_FAIL 0x80004005u
#define HV_S_CONT 0x80070103u
#define ICTIMESYNCFLAG_SYNC 1
#define IC_VERSION_NEGOTIATION_MAX_VER_COUNT 100

struct vmbuspipe_hdr { uint32_t flags, msgsize; } __attribute__((packed));
struct ic_version { uint16_t major, minor; } __attribute__((packed));
struct icmsg_hdr {
	struct ic_version icverframe;
	uint16_t icmsgtype;
	struct ic_version icvermsg;
	uint16_t icmsgsize;
	uint32_t status;
	uint8_t ictransaction_id;
	uint8_t icflags;
	uint8_t reserved[2];
} __attribute__((packed));
#define ICMSG_HDR (sizeof(struct vmbuspipe_hdr) + sizeof(struct icmsg_hdr))
struct icmsg_negotiate {
	uint16_t icframe_vercnt, icmsg_vercnt;
	uint32_t reserved;
	struct ic_version icversion_data[];
} __attribute__((packed));

/* struct hv_kvp_msg, the parts we use (include/uapi/linux/hyperv.h) */
#define KVP_OP_GET 0
#define KVP_OP_SET 1
#define KVP_OP_DELETE 2
#define KVP_OP_ENUMERATE 3
#define REG_SZ 1
#define KEY_MAX 512
#define VALUE_MAX 2048
struct kvp_value {
	uint32_t value_type, key_size, value_size;
	uint8_t key[KEY_MAX];
	uint8_t value[VALUE_MAX];
} __attribute__((packed));
struct kvp_msg {
	uint8_t operation, pool;
	uint16_t pad;
	union {
		struct kvp_value get_set;
		struct { uint32_t index; struct kvp_value data; } __attribute__((packed)) enumerate;
	};
} __attribute__((packed));

/* Linux's fw_versions[] and each service's versions, newest first (hv_util.c, hv_kvp.c). */
static const uint32_t fw_versions[] = { 0x30000, 0x10000 };
static const uint32_t srv_versions[IC_COUNT][4] = {
	[IC_HEARTBEAT] = { 0x30000, 0x10000 },
	[IC_SHUTDOWN] = { 0x30002, 0x30001, 0x30000, 0x10000 },
	[IC_TIMESYNC] = { 0x40000, 0x30000, 0x10000 },
	[IC_KVP] = { 0x40000, 0x30000, 0x10000 },
};

const uint8_t ic_class_id[IC_COUNT][16] = {
	[IC_HEARTBEAT] = { 0x39, 0x4f, 0x16, 0x57, 0x15, 0x91, 0x78, 0x4e, 0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d },
	[IC_SHUTDOWN] = { 0x31, 0x60, 0x0b, 0x0e, 0x13, 0x52, 0x34, 0x49, 0x81, 0x8b, 0x38, 0xd9, 0x0c, 0xed, 0x39, 0xdb },
	[IC_TIMESYNC] = { 0x30, 0xe6, 0x27, 0x95, 0xae, 0xd0, 0x7b, 0x49, 0xad, 0xce, 0xe8, 0x0a, 0xb0, 0x17, 0x5c, 0xaf },
	[IC_KVP] = { 0xe7, 0xf4, 0xa0, 0xa9, 0x45, 0x5a, 0x96, 0x4d, 0xb8, 0x27, 0x8a, 0x84, 0x1e, 0x8c, 0x03, 0xe6 },
};
const char *const ic_name[IC_COUNT] = { "heartbeat", "shutdown", "timesync", "kvp" };

static uint8_t rings[IC_COUNT][2 * IC_RING_SIZE] __attribute__((aligned(4096)));
static uint8_t buf[4 * 4096] __attribute__((aligned(8)));	/* Linux's recv_buffer: 4 pages */

int ic_open(struct ic *ic, const struct vmbus_offer *offer)
{
	int s = -1;
	for (int i = 0; i < IC_COUNT; i++)
		if (vmbus_guid_eq(offer->if_type, ic_class_id[i]))
			s = i;
	if (s < 0)
		return VMBUS_EREFUSED;
	ic->service = s;
	ic->framework = ic->version = 0;	/* negotiated afresh; the KVP pools stay (the daemon's files) */
	return vmbus_open(&ic->ch, offer, rings[s], IC_RING_SIZE, IC_RING_SIZE, 0, 0);
}

int ic_close(struct ic *ic) { return vmbus_close(&ic->ch); }

/* vmbus_prep_negotiate_resp: the newest framework and service versions both sides have, or none. */
static int negotiate(struct ic *ic, struct icmsg_hdr *h, uint32_t len)
{
	if (len < ICMSG_HDR + 4)
		return 0;
	struct icmsg_negotiate *n = (struct icmsg_negotiate *)&buf[ICMSG_HDR];
	int fc = n->icframe_vercnt, mc = n->icmsg_vercnt, found = 0;
	uint32_t fw = 0, srv = 0;
	h->icmsgsize = 0x10;
	if (fc <= IC_VERSION_NEGOTIATION_MAX_VER_COUNT && mc <= IC_VERSION_NEGOTIATION_MAX_VER_COUNT &&
	    ICMSG_HDR + sizeof *n + (fc + mc) * sizeof(struct ic_version) <= len) {
		for (unsigned i = 0; i < 2 && !found; i++)
			for (int j = 0; j < fc; j++)
				if (n->icversion_data[j].major == fw_versions[i] >> 16 && n->icversion_data[j].minor == (fw_versions[i] & 0xffff)) {
					fw = fw_versions[i];
					found = 1;
					break;
				}
		if (found) {
			found = 0;
			for (unsigned i = 0; i < 4 && srv_versions[ic->service][i] && !found; i++)
				for (int j = fc; j < fc + mc; j++)
					if (n->icversion_data[j].major == srv_versions[ic->service][i] >> 16 &&
					    n->icversion_data[j].minor == (srv_versions[ic->service][i] & 0xffff)) {
						srv = srv_versions[ic->service][i];
						found = 1;
						break;
					}
		}
	}
	n->icframe_vercnt = n->icmsg_vercnt = found ? 1 : 0;
	n->icversion_data[0].major = fw >> 16;
	n->icversion_data[0].minor = fw & 0xffff;
	n->icversion_data[1].major = srv >> 16;
	n->icversion_data[1].minor = srv & 0xffff;
	if (found) {
		ic->framework = fw;
		ic->version = srv;
	}
	return found;
}

/* UTF-16LE of the host to our ASCII (others become '?'), at most `max` bytes of it, NUL-terminated in `out`. */
static void from_utf16(const uint8_t *in, uint32_t size, char *out, int outlen)
{
	int o = 0;
	for (uint32_t i = 0; i + 1 < size && o < outlen - 1; i += 2) {
		uint16_t c = in[i] | in[i + 1] << 8;
		if (!c)
			break;
		out[o++] = c < 0x80 ? (char)c : '?';
	}
	out[o] = 0;
}

/* Our ASCII to UTF-16LE; returns the bytes written, NUL included (Linux's 2 * (len + 1)). */
static uint32_t to_utf16(const char *s, uint8_t *out, uint32_t max)
{
	uint32_t n = 0;
	for (; s[n] && 2 * (n + 2) <= max; n++) {
		out[2 * n] = (uint8_t)s[n];
		out[2 * n + 1] = 0;
	}
	out[2 * n] = out[2 * n + 1] = 0;
	return 2 * (n + 1);
}

static int str_eq(const char *a, const char *b) { return strlen(a) == strlen(b) && !memcmp(a, b, strlen(a)); }
static void str_copy(char *to, const char *from) { memcpy(to, from, strlen(from) + 1); }

static struct kvp_item *find(struct ic *kvp, int pool, const char *key)
{
	for (int i = 0; i < kvp->pool_len[pool]; i++)
		if (str_eq(kvp->pool[pool][i].key, key))
			return &kvp->pool[pool][i];
	return 0;
}

int kvp_pool_set(struct ic *kvp, int pool, const char *key, const char *value)
{
	if (pool < 0 || pool >= KVP_POOLS || strlen(key) >= KVP_KEY || strlen(value) >= KVP_VALUE)
		return VMBUS_EREFUSED;
	struct kvp_item *it = find(kvp, pool, key);
	if (!it) {
		if (kvp->pool_len[pool] >= KVP_ITEMS)
			return VMBUS_ENOBUFS;
		it = &kvp->pool[pool][kvp->pool_len[pool]++];
		str_copy(it->key, key);
	}
	str_copy(it->value, value);
	return 0;
}

const char *kvp_pool_get(const struct ic *kvp, int pool, const char *key)
{
	struct kvp_item *it = find((struct ic *)kvp, pool, key);
	return it ? it->value : 0;
}

/* The KVP daemon's part (hv_kvp_daemon.c), done in place: the status goes in the icmsg_hdr. */
static uint32_t kvp(struct ic *ic, uint32_t len)
{
	struct kvp_msg *m = (struct kvp_msg *)&buf[ICMSG_HDR];
	char key[KVP_KEY], value[KVP_VALUE];
	if (len < ICMSG_HDR + 4 || m->pool >= KVP_POOLS)
		return HV_E_FAIL;
	int pool = m->pool;
	switch (m->operation) {
	case KVP_OP_SET:
		if (len < ICMSG_HDR + 4 + sizeof(struct kvp_value) || m->get_set.value_type != REG_SZ)
			return HV_E_FAIL;
		from_utf16(m->get_set.key, m->get_set.key_size < KEY_MAX ? m->get_set.key_size : KEY_MAX, key, sizeof key);
		from_utf16(m->get_set.value, m->get_set.value_size < VALUE_MAX ? m->get_set.value_size : VALUE_MAX, value, sizeof value);
		ic->kvp_sets++;
		return kvp_pool_set(ic, pool, key, value) ? HV_E_FAIL : HV_S_OK;
	case KVP_OP_GET: {
		if (len < ICMSG_HDR + 4 + sizeof(struct kvp_value))
			return HV_E_FAIL;
		from_utf16(m->get_set.key, m->get_set.key_size < KEY_MAX ? m->get_set.key_size : KEY_MAX, key, sizeof key);
		const char *v = kvp_pool_get(ic, pool, key);
		if (!v)
			return HV_S_CONT;
		m->get_set.value_type = REG_SZ;
		m->get_set.value_size = to_utf16(v, m->get_set.value, VALUE_MAX);
		return HV_S_OK;
	}
	case KVP_OP_ENUMERATE: {
		if (len < ICMSG_HDR + 8 + sizeof(struct kvp_value))
			return HV_E_FAIL;
		uint32_t i = m->enumerate.index;
		if (i >= (uint32_t)ic->pool_len[pool]) {
			ic->enumerations_done++;
			return HV_S_CONT;	/* no more items: the host's enumeration ends */
		}
		struct kvp_value *d = &m->enumerate.data;
		d->value_type = REG_SZ;
		d->key_size = to_utf16(ic->pool[pool][i].key, d->key, KEY_MAX);
		d->value_size = to_utf16(ic->pool[pool][i].value, d->value, VALUE_MAX);
		return HV_S_OK;
	}
	default:
		return HV_E_FAIL;
	}
}

/* One request in buf (`len` bytes): answered in place; the status goes in the header. */
static void handle(struct ic *ic, uint32_t len)
{
	struct icmsg_hdr *h = (struct icmsg_hdr *)&buf[sizeof(struct vmbuspipe_hdr)];
	uint8_t *data = &buf[ICMSG_HDR];
	ic->requests++;
	if (h->icmsgtype == ICMSGTYPE_NEGOTIATE) {
		negotiate(ic, h, len);
	} else if (h->icmsgtype == ICMSGTYPE_HEARTBEAT && ic->service == IC_HEARTBEAT && len >= ICMSG_HDR + 8) {
		uint64_t seq;
		memcpy(&seq, data, 8);
		seq += 1;
		memcpy(data, &seq, 8);
		ic->heartbeat_seq = seq;
	} else if (h->icmsgtype == ICMSGTYPE_SHUTDOWN && ic->service == IC_SHUTDOWN && len >= ICMSG_HDR + 12 + 2048) {
		uint32_t flags;
		memcpy(&flags, data + 8, 4);
		/* 0 shut down, 2 restart (| 1 forced), as hv_util.c; hibernation (4) we cannot */
		h->status = flags <= 3 ? HV_S_OK : HV_E_FAIL;
		if (flags <= 3) {
			ic->shutdown_asked = 1;
			ic->shutdown_flags = flags;
		}
	} else if (h->icmsgtype == ICMSGTYPE_TIMESYNC && ic->service == IC_TIMESYNC && len >= ICMSG_HDR + 22) {
		/* ictimesync_ref_data from 4.0: the sample plus the reference time it was taken at; older: ictimesync_data */
		uint64_t parent, ref = csr_read(time);
		uint8_t flags;
		memcpy(&parent, data, 8);
		if (ic->version >= 0x40000) {
			uint64_t vmref;
			memcpy(&vmref, data + 8, 8);
			flags = data[16];
			parent += ref - vmref;	/* adj_guesttime: what passed since the host took it */
		} else {
			flags = len >= ICMSG_HDR + 25 ? data[24] : 0;
		}
		ic->host_time = parent;
		ic->ref_time = ref;
		if (flags & ICTIMESYNCFLAG_SYNC)
			ic->syncs++;
		else
			ic->samples++;
	} else if (h->icmsgtype == ICMSGTYPE_KVPEXCHANGE && ic->service == IC_KVP) {
		h->status = kvp(ic, len);
	} else {
		h->status = HV_E_FAIL;
	}
	h->icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
}

int ic_poll(struct ic *ic)
{
	int n = 0;
	for (;;) {
		uint32_t len;
		uint64_t id;
		int r = vmbus_recvpacket(&ic->ch, buf, sizeof buf, &len, &id);
		if (r < 0)
			return r;
		if (r == 0) {
			if (ring_end_read(&ic->ch.inbound))
				continue;	/* more came as we unmasked: no signal will come for it */
			return n;
		}
		if (len < ICMSG_HDR)
			continue;	/* as hv_util.c: too short to answer */
		handle(ic, len);
		if ((r = vmbus_sendpacket_wait(&ic->ch, buf, len, id, VM_PKT_DATA_INBAND, 0)) < 0)
			return r;
		n++;
	}
}

struct any { struct ic **ics; int n; };

static int any_pending(void *p)
{
	struct any *a = p;
	for (int i = 0; i < a->n; i++)
		if (a->ics[i]->ch.pending)
			return 1;
	return 0;
}

int ic_wait(struct ic **ics, int n, uint64_t ticks)
{
	struct any a = { ics, n };
	int r = vmbus_wait_until(any_pending, &a, ticks);
	for (int i = 0; i < n; i++)
		ics[i]->ch.pending = 0;
	return r;
}

uint64_t ic_unix_time(const struct ic *ts)
{
	const uint64_t wltimedelta = 116444736000000000ULL;
	if (!ts->host_time)
		return 0;
	return (ts->host_time + (csr_read(time) - ts->ref_time) - wltimedelta) / 10000000;
}
