/*
 * hv_dm.c - Hyper-V Dynamic Memory, the guest's side (see hv_dm.h).
 */
#include "hv_dm.h"
#include "vmbus_ring.h"

enum {
	DM_VERSION_REQUEST = 1, DM_VERSION_RESPONSE, DM_CAPABILITIES_REPORT, DM_CAPABILITIES_RESPONSE, DM_STATUS_REPORT,
	DM_BALLOON_REQUEST, DM_BALLOON_RESPONSE, DM_UNBALLOON_REQUEST, DM_UNBALLOON_RESPONSE,
};

struct dm_header { uint16_t type, size; uint32_t trans_id; } __attribute__((packed));
struct dm_version_request { struct dm_header hdr; uint32_t version; uint32_t is_last_attempt; } __attribute__((packed));
struct dm_response { struct dm_header hdr; uint64_t is_accepted; } __attribute__((packed));
struct dm_capabilities {
	struct dm_header hdr;
	uint64_t caps;		/* bit 0 balloon, bit 1 hot_add, bits 2-5 hot_add_alignment */
	uint64_t min_page_cnt, max_page_number;
} __attribute__((packed));
struct dm_status {
	struct dm_header hdr;
	uint64_t num_avail, num_committed, page_file_size, zero_free;
	uint32_t page_file_writes, io_diff;
} __attribute__((packed));
struct dm_balloon { struct dm_header hdr; uint32_t num_pages, reservedz; } __attribute__((packed));
/* union dm_mem_page_range: start_page bits 0-39, page_cnt bits 40-63 */
struct dm_balloon_response {
	struct dm_header hdr;
	uint32_t reservedz;
	uint32_t more_pages_count;	/* more_pages:1, range_count:31 */
	uint64_t range_array[];
} __attribute__((packed));
struct dm_unballoon_request {
	struct dm_header hdr;
	uint32_t more_pages;	/* bit 0 */
	uint32_t range_count;
	uint64_t range_array[];
} __attribute__((packed));

#define PAGE 4096
#define RANGE_START(r) ((r) & 0xffffffffffULL)
#define RANGE_COUNT(r) ((r) >> 40)

const uint8_t dm_class_id[16] = { 0xdc, 0x74, 0x50, 0x52, 0x85, 0x89, 0xe2, 0x46, 0x80, 0x57, 0xa3, 0x07, 0xdc, 0x18, 0xa5, 0x02 };

static uint8_t ring[2 * DM_RING_SIZE] __attribute__((aligned(4096)));
static uint8_t buf[PAGE] __attribute__((aligned(8)));	/* hv_balloon.c's recv_buffer and balloon_up_send_buffer: one page */
static uint8_t out[PAGE] __attribute__((aligned(8)));

/* ---- the pool ---- */

void dm_pool_init(struct dm_pool *p, void *base, uint8_t *state, uint32_t pages, uint32_t floor)
{
	p->base = base;
	p->state = state;
	p->pages = p->free = pages;
	p->used = p->ballooned = 0;
	p->floor = floor;
	memset(state, DM_PAGE_FREE, pages);
}

void *dm_page_alloc(struct dm_pool *p)
{
	for (uint32_t i = 0; i < p->pages; i++)
		if (p->state[i] == DM_PAGE_FREE) {
			p->state[i] = DM_PAGE_USED;
			p->free--;
			p->used++;
			return p->base + (uint64_t)i * PAGE;
		}
	return 0;
}

void dm_page_free(struct dm_pool *p, void *page)
{
	uint32_t i = ((uint8_t *)page - p->base) / PAGE;
	if (i < p->pages && p->state[i] == DM_PAGE_USED) {
		p->state[i] = DM_PAGE_FREE;
		p->free++;
		p->used--;
	}
}

/* ---- messages ---- */

static void header(struct dm *dm, void *m, uint16_t type, uint16_t size)
{
	struct dm_header *h = m;
	h->type = type;
	h->size = size;
	h->trans_id = ++dm->trans_id;
}

static int send(struct dm *dm, const void *m, uint32_t len)
{
	return vmbus_sendpacket_wait(&dm->ch, m, len, 0, VM_PKT_DATA_INBAND, 0);
}

/* The next message from the host into buf (waiting for it); its type, or < 0. */
static int receive(struct dm *dm)
{
	uint32_t len;
	uint64_t id;
	int r = vmbus_recvpacket_wait(&dm->ch, buf, sizeof buf, &len, &id);
	if (r < 0)
		return r;
	return len >= sizeof(struct dm_header) ? ((struct dm_header *)buf)->type : VMBUS_EIO;
}

/* balloon_connect_vsp: WIN10, then WIN8, then WIN7 (the last attempt); then our capabilities. */
static int connect_vsp(struct dm *dm)
{
	static const uint32_t versions[] = { DM_VERSION_WIN10, DM_VERSION_WIN8, DM_VERSION_WIN7 };
	for (unsigned i = 0; i < 3 && !dm->version; i++) {
		struct dm_version_request v = { 0 };
		header(dm, &v, DM_VERSION_REQUEST, sizeof v);
		v.version = versions[i];
		v.is_last_attempt = i == 2;
		int r = send(dm, &v, sizeof v);
		if (r < 0 || (r = receive(dm)) < 0)
			return r;
		if (r != DM_VERSION_RESPONSE)
			return VMBUS_EIO;
		if (((struct dm_response *)buf)->is_accepted & 1)
			dm->version = versions[i];
	}
	if (!dm->version)
		return VMBUS_EREFUSED;
	struct dm_capabilities c = { 0 };
	header(dm, &c, DM_CAPABILITIES_REPORT, sizeof c);
	c.caps = 1 | (7ULL << 2);	/* balloon; no hot-add; 128 MiB hot-add chunks (ilog2 of MiB) as Linux says */
	c.max_page_number = (uint64_t)-1;
	int r = send(dm, &c, sizeof c);
	if (r < 0 || (r = receive(dm)) < 0)
		return r;
	if (r != DM_CAPABILITIES_RESPONSE || !(((struct dm_response *)buf)->is_accepted & 1))
		return VMBUS_EREFUSED;
	return 0;
}

int dm_open(struct dm *dm, const struct vmbus_offer *offer, struct dm_pool *pool)
{
	dm->pool = pool;
	dm->version = 0;
	int r = vmbus_open(&dm->ch, offer, ring, DM_RING_SIZE, DM_RING_SIZE, 0, 0);
	return r ? r : connect_vsp(dm);
}

int dm_close(struct dm *dm) { return vmbus_close(&dm->ch); }

int dm_post_status(struct dm *dm)
{
	struct dm_status s = { 0 };
	header(dm, &s, DM_STATUS_REPORT, sizeof s);
	s.num_avail = dm->pool->free;
	s.num_committed = dm->pool->used;
	dm->statuses++;
	dm->last_status = csr_read(time);
	return send(dm, &s, sizeof s);
}

/* balloon_up: up to `n` free pages, never below the floor, in responses of one page each (more_pages until the last). */
static int balloon_up(struct dm *dm, uint32_t n)
{
	struct dm_pool *p = dm->pool;
	uint32_t avail = p->free > p->floor ? p->free - p->floor : 0;
	if (n > avail)
		n = avail;	/* "Balloon request will be partially fulfilled" */
	dm->balloon_requests++;
	dm->pages_asked += n;
	uint32_t given = 0, at = 0;
	for (;;) {
		struct dm_balloon_response *r = (struct dm_balloon_response *)out;
		memset(out, 0, sizeof out);
		header(dm, r, DM_BALLOON_RESPONSE, sizeof *r);
		uint32_t ranges = 0;
		/* alloc_balloon_pages: a range per run of free pages, as many as fit in the page */
		while (given < n && sizeof *r + (ranges + 1) * 8 <= PAGE) {
			while (at < p->pages && p->state[at] != DM_PAGE_FREE)
				at++;
			if (at == p->pages)
				break;
			uint32_t start = at, cnt = 0;
			while (at < p->pages && p->state[at] == DM_PAGE_FREE && given + cnt < n) {
				p->state[at++] = DM_PAGE_BALLOONED;
				cnt++;
			}
			uint64_t pfn = ((uint64_t)(uintptr_t)p->base + (uint64_t)start * PAGE) / PAGE;
			r->range_array[ranges++] = pfn | ((uint64_t)cnt << 40);
			p->free -= cnt;
			p->ballooned += cnt;
			given += cnt;
		}
		int done = given == n || at == p->pages;
		r->more_pages_count = (done ? 0 : 1) | (ranges << 1);
		r->hdr.size = sizeof *r + ranges * 8;
		dm->ranges_given += ranges;
		dm->balloon_responses++;
		int e = send(dm, r, r->hdr.size);
		if (e < 0)
			return e;
		if (done)
			break;
	}
	dm->pages_given += given;
	return 0;
}

/* balloon_down: the host gives pages back; answered after the last request of a series (more_pages 0). */
static int balloon_down(struct dm *dm, uint32_t len)
{
	struct dm_unballoon_request *q = (struct dm_unballoon_request *)buf;
	struct dm_pool *p = dm->pool;
	if (len < sizeof *q || q->range_count > (len - sizeof *q) / 8)
		return 0;	/* malformed: nothing to give back */
	dm->unballoon_requests++;
	uint64_t first = (uint64_t)(uintptr_t)p->base / PAGE;
	for (uint32_t i = 0; i < q->range_count; i++) {
		uint64_t start = RANGE_START(q->range_array[i]), cnt = RANGE_COUNT(q->range_array[i]);
		for (uint64_t pfn = start; pfn < start + cnt; pfn++) {
			uint64_t k = pfn - first;
			if (pfn < first || k >= p->pages || p->state[k] != DM_PAGE_BALLOONED)
				continue;	/* not one we gave */
			p->state[k] = DM_PAGE_FREE;
			p->ballooned--;
			p->free++;
			dm->pages_returned++;
		}
	}
	if (q->more_pages & 1)
		return 0;
	struct dm_header resp;
	header(dm, &resp, DM_UNBALLOON_RESPONSE, sizeof resp);
	return send(dm, &resp, sizeof resp);
}

int dm_poll(struct dm *dm)
{
	int n = 0;
	for (;;) {
		uint32_t len;
		uint64_t id;
		int r = vmbus_recvpacket(&dm->ch, buf, sizeof buf, &len, &id);
		if (r < 0)
			return r;
		if (r == 0) {
			if (ring_end_read(&dm->ch.inbound))
				continue;	/* more came as we unmasked: no signal will come for it */
			break;
		}
		if (len < sizeof(struct dm_header))
			continue;
		struct dm_header *h = (struct dm_header *)buf;
		if (h->type == DM_BALLOON_REQUEST && len >= sizeof(struct dm_balloon))
			r = balloon_up(dm, ((struct dm_balloon *)buf)->num_pages);
		else if (h->type == DM_UNBALLOON_REQUEST)
			r = balloon_down(dm, len);
		if (r < 0)
			return r;
		n++;
	}
	/* dm_thread_func: the host expects our pressure every second */
	if (csr_read(time) - dm->last_status >= MTIME_HZ) {
		int r = dm_post_status(dm);
		if (r < 0)
			return r;
	}
	return n;
}

static int pending(void *p) { return ((struct dm *)p)->ch.pending; }

int dm_wait(struct dm *dm, uint64_t ticks)
{
	int r = vmbus_wait_until(pending, dm, ticks);
	dm->ch.pending = 0;
	return r;
}
