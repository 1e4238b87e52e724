/*
 * vmbus_ring.c - a channel's two ring buffers from the guest's side, as
 * Linux's drivers/hv/ring_buffer.c (6.12) handles them; the host's side is
 * kernel/vmbus/ring.ts (its README has the layout and the rules).
 *
 *   write: fails unless free > the packet (never filled exactly); copy
 *          descriptor, payload, padding, trailer ((u64)old write_index << 32);
 *          barrier; publish write_index; signal only if the host has not
 *          masked its interrupt and the ring was empty (hv_signal_on_write).
 *   read:  one packet, checked; publish read_index; signal the host only if
 *          it waits for room (pending_send_sz) and this read took the free
 *          space from not enough to enough (hv_pkt_iter_close).
 *
 * Indices come from shared memory: each is read once and checked before use.
 */
#include "vmbus_ring.h"

#define mb() __sync_synchronize()
#define DESC 16u
#define TRAILER 8u

void ring_init(struct vmbus_ring *r, void *mem, uint32_t size)
{
	r->rb = mem;
	r->dsize = size - 4096;
	r->rb->write_index = r->rb->read_index = 0;
	r->rb->interrupt_mask = 0;
	r->rb->pending_send_sz = 0;
	r->rb->feature_bits = 1;	/* hv_ringbuffer_init: this end honours pending_send_sz */
}

void ring_begin_read(struct vmbus_ring *r)
{
	r->rb->interrupt_mask = 1;
	mb();
}

static int index_ok(const struct vmbus_ring *r, uint32_t i) { return i < r->dsize && !(i & 7); }

/* hv_get_bytes_to_write for the given indices */
static uint32_t free_bytes(const struct vmbus_ring *r, uint32_t w, uint32_t rd)
{
	return w >= rd ? r->dsize - (w - rd) : rd - w;
}

uint32_t ring_end_read(struct vmbus_ring *r)
{
	r->rb->interrupt_mask = 0;
	mb();
	uint32_t w = r->rb->write_index, rd = r->rb->read_index;
	if (!index_ok(r, w) || !index_ok(r, rd))
		return 0;
	return r->dsize - free_bytes(r, w, rd);
}

static uint32_t copy_to(struct vmbus_ring *r, uint32_t off, const void *src, uint32_t n)
{
	uint32_t first = n < r->dsize - off ? n : r->dsize - off;
	memcpy(r->rb->buffer + off, src, first);
	memcpy(r->rb->buffer, (const uint8_t *)src + first, n - first);
	return (off + n) % r->dsize;
}

static void copy_from(const struct vmbus_ring *r, uint32_t off, void *dst, uint32_t n)
{
	uint32_t first = n < r->dsize - off ? n : r->dsize - off;
	memcpy(dst, r->rb->buffer + off, first);
	memcpy((uint8_t *)dst + first, r->rb->buffer, n - first);
}

struct kvec {
	const void *base;
	uint32_t len;
};

/* hv_ringbuffer_write: the pieces of one packet (kv[0] is its descriptor, trans_id set). */
static int ring_write(struct vmbus_channel *ch, const struct kvec *kv, int n, uint32_t *needed)
{
	struct vmbus_ring *r = &ch->outbound;
	uint32_t total = TRAILER;
	for (int i = 0; i < n; i++)
		total += kv[i].len;
	*needed = total;
	uint32_t w = r->rb->write_index, rd = r->rb->read_index;
	if (!index_ok(r, w) || !index_ok(r, rd))
		return VMBUS_EIO;
	if (free_bytes(r, w, rd) <= total)
		return VMBUS_EAGAIN;
	uint32_t at = w;
	for (int i = 0; i < n; i++)
		at = copy_to(r, at, kv[i].base, kv[i].len);
	uint64_t prev_indices = (uint64_t)w << 32;
	at = copy_to(r, at, &prev_indices, TRAILER);
	mb();	/* the packet before the index that publishes it */
	r->rb->write_index = at;
	/* hv_signal_on_write */
	mb();
	if (r->rb->interrupt_mask)
		return 0;
	mb();
	if (w == r->rb->read_index)
		vmbus_setevent(ch);
	return 0;
}

static const uint64_t zero_pad;

int vmbus_sendpacket(struct vmbus_channel *ch, const void *buf, uint32_t len, uint64_t trans_id,
		     uint16_t type, uint16_t flags)
{
	uint32_t packetlen = DESC + len, aligned = (packetlen + 7) & ~7u, needed;
	struct vmpacket_descriptor d = { type, DESC >> 3, (uint16_t)(aligned >> 3), flags, trans_id };
	struct kvec kv[3] = { { &d, DESC }, { buf, len }, { &zero_pad, aligned - packetlen } };
	return ring_write(ch, kv, 3, &needed);
}

int vmbus_sendpacket_mpb_desc(struct vmbus_channel *ch, struct vmbus_packet_mpb_array *desc, uint32_t desc_size,
			      const void *buf, uint32_t len, uint64_t trans_id)
{
	uint32_t packetlen = desc_size + len, aligned = (packetlen + 7) & ~7u, needed;
	desc->d.type = VM_PKT_DATA_USING_GPA_DIRECT;
	desc->d.flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;
	desc->d.offset8 = desc_size >> 3;
	desc->d.len8 = aligned >> 3;
	desc->d.trans_id = trans_id;
	desc->reserved = 0;
	struct kvec kv[3] = { { desc, desc_size }, { buf, len }, { &zero_pad, aligned - packetlen } };
	return ring_write(ch, kv, 3, &needed);
}

/*
 * A blocked writer: publish the room it needs (pending_send_sz), look once
 * more (the host may have read meanwhile and will not signal), then wait
 * for the host's signal.
 */
int vmbus_sendpacket_wait(struct vmbus_channel *ch, const void *buf, uint32_t len, uint64_t trans_id,
			  uint16_t type, uint16_t flags)
{
	for (;;) {
		int r = vmbus_sendpacket(ch, buf, len, trans_id, type, flags);
		if (r != VMBUS_EAGAIN)
			return r;
		ch->sends_blocked++;
		uint32_t needed = ((DESC + len + 7) & ~7u) + TRAILER;
		struct hv_ring_buffer *rb = ch->outbound.rb;
		rb->pending_send_sz = needed;
		mb();
		uint32_t w = rb->write_index, rd = rb->read_index;
		if (index_ok(&ch->outbound, w) && index_ok(&ch->outbound, rd) && free_bytes(&ch->outbound, w, rd) > needed) {
			rb->pending_send_sz = 0;
			continue;
		}
		r = vmbus_wait_event(ch);
		rb->pending_send_sz = 0;
		if (r)
			return r;
	}
}

/* hv_pkt_iter_close: publish the read index; signal a host that waits for this much room. */
static void pkt_iter_close(struct vmbus_channel *ch, uint32_t start, uint32_t next)
{
	struct vmbus_ring *r = &ch->inbound;
	mb();	/* our reads of the packet before the host may overwrite it */
	r->rb->read_index = next;
	if (!(r->rb->feature_bits & 1))
		return;
	mb();
	uint32_t pending = r->rb->pending_send_sz;
	if (!pending)
		return;
	mb();
	uint32_t w = r->rb->write_index;
	if (!index_ok(r, w))
		return;
	uint32_t curr_write_sz = free_bytes(r, w, next);
	uint32_t bytes_read = next >= start ? next - start : r->dsize - start + next;
	if (curr_write_sz - bytes_read > pending)
		return;	/* there was enough before: the host was told then */
	if (curr_write_sz <= pending)
		return;	/* still not enough */
	vmbus_setevent(ch);
}

/* hv_ringbuffer_read: the payload from offset8 on (raw: the whole packet, descriptor included), and the transaction id. */
static int recvpacket(struct vmbus_channel *ch, void *buf, uint32_t buflen, uint32_t *actual, uint64_t *trans_id, int raw)
{
	struct vmbus_ring *r = &ch->inbound;
	uint32_t w = r->rb->write_index, rd = r->rb->read_index;
	if (!index_ok(r, w) || !index_ok(r, rd))
		return VMBUS_EIO;
	uint32_t avail = r->dsize - free_bytes(r, w, rd);
	if (avail < DESC)
		return 0;
	mb();	/* the packet after the index that published it */
	struct vmpacket_descriptor d;
	copy_from(r, rd, &d, DESC);
	uint32_t packetlen = (uint32_t)d.len8 << 3, offset = (uint32_t)d.offset8 << 3;
	if (packetlen < DESC || offset < DESC || offset > packetlen || packetlen + TRAILER > avail)
		return VMBUS_EIO;
	if (raw)
		offset = 0;
	*actual = packetlen - offset;
	*trans_id = d.trans_id;
	if (packetlen - offset > buflen)
		return VMBUS_ENOBUFS;
	copy_from(r, (rd + offset) % r->dsize, buf, packetlen - offset);
	pkt_iter_close(ch, rd, (rd + packetlen + TRAILER) % r->dsize);
	return 1;
}

int vmbus_recvpacket(struct vmbus_channel *ch, void *buf, uint32_t buflen, uint32_t *actual, uint64_t *trans_id)
{
	return recvpacket(ch, buf, buflen, actual, trans_id, 0);
}

int vmbus_recvpacket_raw(struct vmbus_channel *ch, void *buf, uint32_t buflen, uint32_t *actual)
{
	uint64_t id;
	return recvpacket(ch, buf, buflen, actual, &id, 1);
}

/*
 * The next packet, waiting for the host's signal if there is none. As
 * Linux's batched channel callback: the interrupt masks the ring
 * (vmbus.c take_events), packets are read until it is empty, and only then
 * is it unmasked (hv_end_read) and looked at once more, so the host signals
 * once per batch, not per packet. VMBUS_ETIMEDOUT when none came within
 * `ticks` of the time CSR.
 */
static int recvpacket_wait(struct vmbus_channel *ch, void *buf, uint32_t buflen, uint32_t *actual, uint64_t *trans_id, int raw,
			   uint64_t ticks)
{
	uint64_t deadline = csr_read(time) + ticks;
	for (;;) {
		int r = recvpacket(ch, buf, buflen, actual, trans_id, raw);
		if (r > 0 && ch->inbound.rb->read_index == ch->inbound.rb->write_index)
			ring_end_read(&ch->inbound);	/* drained: the next packet signals */
		if (r != 0)
			return r;
		if (ring_end_read(&ch->inbound))
			continue;
		uint64_t now = csr_read(time);
		if (now >= deadline)
			return VMBUS_ETIMEDOUT;
		if ((r = vmbus_wait_event_until(ch, deadline - now)))
			return r;
	}
}

int vmbus_recvpacket_wait(struct vmbus_channel *ch, void *buf, uint32_t buflen, uint32_t *actual, uint64_t *trans_id)
{
	return recvpacket_wait(ch, buf, buflen, actual, trans_id, 0, VMBUS_TIMEOUT_TICKS);
}

int vmbus_recvpacket_raw_wait(struct vmbus_channel *ch, void *buf, uint32_t buflen, uint32_t *actual)
{
	return vmbus_recvpacket_raw_wait_until(ch, buf, buflen, actual, VMBUS_TIMEOUT_TICKS);
}

int vmbus_recvpacket_raw_wait_until(struct vmbus_channel *ch, void *buf, uint32_t buflen, uint32_t *actual, uint64_t ticks)
{
	uint64_t id;
	return recvpacket_wait(ch, buf, buflen, actual, &id, 1, ticks);
}
