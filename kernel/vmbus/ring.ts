// VMBus ring-buffer primitives (layout and result codes in defs.ts; the
// protocol in README.md). They follow Linux's drivers/hv/ring_buffer.c:
// hv_ringbuffer_write, hv_signal_on_write, hv_pkt_iter_first/next/close,
// hv_begin_read/hv_end_read.
//
// One writer and one reader per ring, each possibly on another thread (a
// vCPU's pCPU, a host endpoint) and the other end possibly a guest. So:
//  - the indices, interrupt_mask and pending_send_sz are read and written
//    with wasm atomics. Those are sequentially consistent, which gives the
//    full barriers Linux places with virt_mb(): the data copy happens before
//    the index store (release), and the store of our index is ordered before
//    the load of the peer's flag that decides the signal (store -> load).
//  - every shared value is loaded once into a local, checked, and only the
//    local is used: a peer changing it meanwhile cannot move a copy outside
//    the ring (Linux hardens hv_pkt_iter_first with READ_ONCE the same way).
//  - no allocation, no managed objects, no abort on anything in the ring.
//
// `ring` is the host address of the header page and `size` the ring's
// bytes, header included (Linux's ring_size). Both come from the host and
// are checked for shape, not for lying outside memory.
import {
  PKT_DESC_SIZE, PKT_MAX_LEN, PKT_TRAILER, RB_FEATURE_BITS, RB_FEAT_PENDING_SEND_SZ, RB_HEADER_SIZE,
  RB_INTERRUPT_MASK, RB_MAX_SIZE, RB_PENDING_SEND_SZ, RB_READ_INDEX, RB_WRITE_INDEX, RING_BAD_INDEX,
  RING_BAD_PACKET, RING_BAD_SIZE, RING_EMPTY, RING_FULL, RING_NO_ROOM, RING_OK, RING_SIGNAL, RING_TOO_BIG,
} from './defs';

/** The data area's size, or 0 if `size` is not a valid ring. */
@inline function dataSize(size: u32): u32 {
  return (size & (RB_HEADER_SIZE - 1)) == 0 && size >= 2 * RB_HEADER_SIZE && size <= RB_MAX_SIZE ? size - RB_HEADER_SIZE : 0;
}

/** An index is a byte offset inside the data area, 8-byte aligned (every packet and trailer is). */
@inline function indexOk(index: u32, dsize: u32): bool {
  return index < dsize && (index & 7) == 0;
}

/** hv_get_bytes_to_write: free = write >= read ? dsize - (write - read) : read - write. */
@inline function bytesToWrite(write: u32, read: u32, dsize: u32): u32 {
  return write >= read ? dsize - (write - read) : read - write;
}

@inline function bytesToRead(write: u32, read: u32, dsize: u32): u32 {
  return dsize - bytesToWrite(write, read, dsize);
}

@inline function wrap(off: u32, dsize: u32): u32 {
  return off >= dsize ? off - dsize : off;
}

/** Copies n (< dsize) bytes from src into the data area at off, wrapping; returns the offset after them. */
function copyIn(data: usize, dsize: u32, off: u32, src: usize, n: u32): u32 {
  const first = min(n, dsize - off);
  memory.copy(data + off, src, first);
  if (n > first) memory.copy(data, src + first, n - first);
  return wrap(off + n, dsize);
}

/** Copies n (< dsize) bytes from the data area at off into dst, wrapping. */
function copyOut(data: usize, dsize: u32, off: u32, dst: usize, n: u32): void {
  const first = min(n, dsize - off);
  memory.copy(dst, data + off, first);
  if (n > first) memory.copy(dst + first, data, n - first);
}

/**
 * hv_ringbuffer_init: indices, mask and pending size zero, feature_bits = 1
 * (this end honours pending_send_sz). The data area is left as it is.
 */
export function ringInit(ring: usize, size: u32): i32 {
  if (!dataSize(size)) return RING_BAD_SIZE;
  memory.fill(ring, 0, RB_HEADER_SIZE);
  atomic.store<u32>(ring, RB_FEAT_PENDING_SEND_SZ, RB_FEATURE_BITS);
  return RING_OK;
}

/**
 * hv_ringbuffer_write of one packet: descriptor {type, offset8 = 2,
 * len8 = ceil((16 + len) / 8), flags, trans_id}, `len` payload bytes from
 * `src`, zero padding to 8, then the trailer (u64)start_write_index << 32.
 * Fails with RING_FULL, writing nothing, when free <= needed: a ring is never
 * filled exactly, so read == write always means empty. After the write index
 * is published, returns RING_SIGNAL when the reader must be signalled
 * (hv_signal_on_write): interrupt_mask is 0 and the ring was empty, i.e.
 * read_index still equals the old write_index. trans_id comes in two u32
 * halves (low, high): a JavaScript caller then needs no BigInt, which cost
 * half of a 64-byte write (18 of 35 ns, docs/vmbus.md "Bench").
 */
export function ringWrite(ring: usize, size: u32, type: u16, flags: u16, transLo: u32, transHi: u32, src: usize, len: u32): i32 {
  return ringWriteAt(ring, size, type, <u16>(PKT_DESC_SIZE >> 3), flags, transLo, transHi, src, len);
}

/**
 * ringWrite for packets with a header of their own between the descriptor
 * and the payload (VM_PKT_DATA_USING_XFER_PAGES: struct
 * vmtransfer_page_packet_header): `src` holds everything after the 16-byte
 * descriptor, and offset8 says where in the packet its payload starts.
 * RING_BAD_PACKET if offset8 points before the end of the descriptor or past `len`.
 */
export function ringWriteAt(ring: usize, size: u32, type: u16, offset8: u16, flags: u16, transLo: u32, transHi: u32, src: usize, len: u32): i32 {
  if (<u32>offset8 << 3 < PKT_DESC_SIZE || (<u32>offset8 << 3) - PKT_DESC_SIZE > len) return RING_BAD_PACKET;
  const dsize = dataSize(size);
  if (!dsize) return RING_BAD_SIZE;
  if (len > PKT_MAX_LEN - PKT_DESC_SIZE) return RING_TOO_BIG;
  const pktLen = (PKT_DESC_SIZE + len + 7) & ~7;
  const needed = pktLen + PKT_TRAILER;
  if (needed >= dsize) return RING_TOO_BIG; // could never fit: not "full", or a writer would wait forever
  const start = atomic.load<u32>(ring, RB_WRITE_INDEX);
  const read = atomic.load<u32>(ring, RB_READ_INDEX);
  if (!indexOk(start, dsize) || !indexOk(read, dsize)) return RING_BAD_INDEX;
  if (bytesToWrite(start, read, dsize) <= needed) return RING_FULL;

  const data = ring + RB_HEADER_SIZE;
  // The descriptor is two u64 words; at an 8-aligned offset of a data area
  // of whole pages it may only split between them.
  store<u64>(data + start, <u64>type | (<u64>offset8 << 16) | (<u64>(pktLen >> 3) << 32) | (<u64>flags << 48));
  store<u64>(data + wrap(start + 8, dsize), <u64>transLo | (<u64>transHi << 32));
  let off = wrap(start + PKT_DESC_SIZE, dsize);
  // Zero the last payload word first; the payload then overwrites its head.
  if (pktLen - PKT_DESC_SIZE > len) store<u64>(data + wrap(start + pktLen - 8, dsize), 0);
  off = copyIn(data, dsize, off, src, len);
  off = wrap(start + pktLen, dsize);
  store<u64>(data + off, <u64>start << 32);
  const next = wrap(off + PKT_TRAILER, dsize);

  // virt_mb(); write_index = next: the packet is visible before the index.
  atomic.store<u32>(ring, next, RB_WRITE_INDEX);
  // hv_signal_on_write: mask first, then read_index, both after the store.
  if (atomic.load<u32>(ring, RB_INTERRUPT_MASK)) return RING_OK;
  return atomic.load<u32>(ring, RB_READ_INDEX) == start ? RING_SIGNAL : RING_OK;
}

// peekPacket's second and third results. wasm globals are per instance, so
// per thread: no other thread can see or change them.
let peekW0: u64 = 0;
let peekW1: u64 = 0;

/**
 * The next packet, checked (hv_pkt_iter_first, stricter: a malformed
 * descriptor is an error, not clamped). Returns its read index (>= 0) with
 * the descriptor's two words left in `peekW0`/`peekW1`, or a result < 0.
 */
function peekPacket(ring: usize, dsize: u32): i32 {
  const write = atomic.load<u32>(ring, RB_WRITE_INDEX);
  const read = atomic.load<u32>(ring, RB_READ_INDEX);
  if (!indexOk(write, dsize) || !indexOk(read, dsize)) return RING_BAD_INDEX;
  const avail = bytesToRead(write, read, dsize);
  if (avail == 0) return RING_EMPTY;
  if (avail < PKT_DESC_SIZE + PKT_TRAILER) return RING_BAD_PACKET;
  const data = ring + RB_HEADER_SIZE;
  const w0 = load<u64>(data + read);
  const pktLen = <u32>((w0 >> 32) & 0xffff) << 3;
  const offset = <u32>((w0 >> 16) & 0xffff) << 3;
  if (pktLen < PKT_DESC_SIZE || offset < PKT_DESC_SIZE || offset > pktLen || pktLen + PKT_TRAILER > avail) return RING_BAD_PACKET;
  peekW0 = w0;
  peekW1 = load<u64>(data + wrap(read + 8, dsize));
  return <i32>read;
}

/**
 * Copies the next packet's 16-byte descriptor (as checked, in the ring's
 * layout) to `desc` without consuming it: RING_OK, RING_EMPTY or an error.
 */
export function ringPeek(ring: usize, size: u32, desc: usize): i32 {
  const dsize = dataSize(size);
  if (!dsize) return RING_BAD_SIZE;
  const read = peekPacket(ring, dsize);
  if (read < 0) return read;
  store<u64>(desc, peekW0);
  store<u64>(desc, peekW1, 8);
  return RING_OK;
}

/**
 * hv_ringbuffer_read of one packet: its descriptor to `desc` (16 bytes),
 * its payload (from offset8 * 8 to len8 * 8; with `raw`, the whole packet
 * from the descriptor on, as vmbus_recvpacket_raw) to `dst`, which holds
 * `dstLen` bytes; then read_index advances by len8 * 8 + 8. Payload bytes:
 * (len8 - offset8) * 8 from the descriptor. A `dst` too small consumes
 * nothing (RING_NO_ROOM, descriptor still copied).
 *
 * Returns RING_SIGNAL when the writer must be signalled (hv_pkt_iter_close):
 * feature_bits has pending_send_sz, pending_send_sz != 0, and this read took
 * the free space from "not enough" (<= pending) to "enough" (> pending).
 */
export function ringRead(ring: usize, size: u32, dst: usize, dstLen: u32, desc: usize, raw: bool): i32 {
  const dsize = dataSize(size);
  if (!dsize) return RING_BAD_SIZE;
  const read = peekPacket(ring, dsize);
  if (read < 0) return read;
  const w0 = peekW0;
  store<u64>(desc, w0);
  store<u64>(desc, peekW1, 8);
  const pktLen = <u32>((w0 >> 32) & 0xffff) << 3;
  const offset = raw ? 0 : <u32>((w0 >> 16) & 0xffff) << 3;
  const n = pktLen - offset;
  if (n > dstLen) return RING_NO_ROOM;
  copyOut(ring + RB_HEADER_SIZE, dsize, wrap(<u32>read + offset, dsize), dst, n);

  // virt_rmb(); read_index = next: the copy is done before the writer may reuse the space.
  const consumed = pktLen + PKT_TRAILER;
  atomic.store<u32>(ring, wrap(<u32>read + consumed, dsize), RB_READ_INDEX);
  return signalOnRead(ring, dsize, consumed);
}

/**
 * hv_pkt_iter_first/next over a batch, then one hv_pkt_iter_close: copies
 * up to `max` whole packets (descriptor and payload, len8 * 8 bytes each,
 * as ringRead with `raw`) back to back into `dst` (`dstLen` bytes), then
 * advances read_index once past them all and their trailers. Linux's
 * readers commit once per batch the same way (foreach_vmbus_pkt, then
 * hv_pkt_iter_close), and the writer's side sees one index store, not one
 * per packet: the index's cache line moves between the two threads once a
 * batch. Returns how many packets (0: the ring is empty) and stores at
 * `info` the bytes written to `dst` (u32) and whether to signal the writer
 * (u32 1/0: hv_pkt_iter_close's decision for the batch's bytes).
 *
 * A malformed packet ends the batch before it and is the error of the next
 * call; an error is returned only for the first packet (RING_BAD_PACKET,
 * RING_BAD_INDEX, or RING_NO_ROOM when it alone does not fit `dstLen`).
 */
export function ringReadBatch(ring: usize, size: u32, dst: usize, dstLen: u32, max: u32, info: usize): i32 {
  store<u64>(info, 0);
  const dsize = dataSize(size);
  if (!dsize) return RING_BAD_SIZE;
  const write = atomic.load<u32>(ring, RB_WRITE_INDEX);
  const start = atomic.load<u32>(ring, RB_READ_INDEX);
  if (!indexOk(write, dsize) || !indexOk(start, dsize)) return RING_BAD_INDEX;
  const data = ring + RB_HEADER_SIZE;
  let avail = bytesToRead(write, start, dsize);
  let read = start;
  let out: u32 = 0;
  let n: u32 = 0;
  let err: i32 = 0;
  while (n < max && avail) {
    if (avail < PKT_DESC_SIZE + PKT_TRAILER) {
      err = RING_BAD_PACKET;
      break;
    }
    const w0 = load<u64>(data + read);
    const pktLen = <u32>((w0 >> 32) & 0xffff) << 3;
    const offset = <u32>((w0 >> 16) & 0xffff) << 3;
    if (pktLen < PKT_DESC_SIZE || offset < PKT_DESC_SIZE || offset > pktLen || pktLen + PKT_TRAILER > avail) {
      err = RING_BAD_PACKET;
      break;
    }
    if (pktLen > dstLen - out) {
      if (!n) err = RING_NO_ROOM;
      break;
    }
    copyOut(data, dsize, read, dst + out, pktLen);
    out += pktLen;
    read = wrap(read + pktLen + PKT_TRAILER, dsize);
    avail -= pktLen + PKT_TRAILER;
    n++;
  }
  if (!n) return err;
  // virt_rmb(); read_index = next: every copy is done before the writer may reuse the space.
  atomic.store<u32>(ring, read, RB_READ_INDEX);
  store<u32>(info, out);
  store<u32>(info, signalOnRead(ring, dsize, bytesToRead(read, start, dsize)) == RING_SIGNAL ? 1 : 0, 4);
  return <i32>n;
}

/** hv_pkt_iter_close's decision after `consumed` bytes were freed (the read index store came first). */
function signalOnRead(ring: usize, dsize: u32, consumed: u32): i32 {
  if (!(atomic.load<u32>(ring, RB_FEATURE_BITS) & RB_FEAT_PENDING_SEND_SZ)) return RING_OK;
  const pending = atomic.load<u32>(ring, RB_PENDING_SEND_SZ);
  if (!pending) return RING_OK;
  // Free space now, with the write index loaded after pending_send_sz.
  const write = atomic.load<u32>(ring, RB_WRITE_INDEX);
  const read = atomic.load<u32>(ring, RB_READ_INDEX);
  if (!indexOk(write, dsize) || !indexOk(read, dsize)) return RING_OK; // the next call reports it
  const now = bytesToWrite(write, read, dsize);
  // "if (curr_write_sz - bytes_read > pending_sz) return;": there was enough before.
  // (now < consumed: the writer wrote meanwhile; the difference wraps as in Linux's u32.)
  if (now - consumed > pending) return RING_OK;
  // "if (curr_write_sz <= pending_sz) return;": still not enough (exactly full is not enough).
  if (now <= pending) return RING_OK;
  return RING_SIGNAL;
}

/** Bytes written and not yet read, or RING_BAD_SIZE / RING_BAD_INDEX. */
export function ringAvail(ring: usize, size: u32): i32 {
  const dsize = dataSize(size);
  if (!dsize) return RING_BAD_SIZE;
  const write = atomic.load<u32>(ring, RB_WRITE_INDEX);
  const read = atomic.load<u32>(ring, RB_READ_INDEX);
  if (!indexOk(write, dsize) || !indexOk(read, dsize)) return RING_BAD_INDEX;
  return <i32>bytesToRead(write, read, dsize);
}

/** Free bytes (hv_get_bytes_to_write; a write of n payload bytes needs more than align8(16 + n) + 8), or an error. */
export function ringFree(ring: usize, size: u32): i32 {
  const dsize = dataSize(size);
  if (!dsize) return RING_BAD_SIZE;
  const write = atomic.load<u32>(ring, RB_WRITE_INDEX);
  const read = atomic.load<u32>(ring, RB_READ_INDEX);
  if (!indexOk(write, dsize) || !indexOk(read, dsize)) return RING_BAD_INDEX;
  return <i32>bytesToWrite(write, read, dsize);
}

/** hv_begin_read: the reader is draining; writers need not signal. */
export function ringBeginRead(ring: usize): void {
  atomic.store<u32>(ring, 1, RB_INTERRUPT_MASK);
}

/**
 * hv_end_read: unmask, then look again. Returns the bytes that arrived
 * meanwhile (read on if > 0: no signal will come for them) or an error.
 */
export function ringEndRead(ring: usize, size: u32): i32 {
  atomic.store<u32>(ring, 0, RB_INTERRUPT_MASK);
  return ringAvail(ring, size);
}

/**
 * A writer that found the ring full publishes what it needs (the `needed`
 * of the failed write: align8(16 + len) + 8), then looks at the free space
 * again before it waits; 0 withdraws it.
 */
export function ringSetPendingSend(ring: usize, bytes: u32): void {
  atomic.store<u32>(ring, bytes, RB_PENDING_SEND_SZ);
}
