// VMBus ring buffer layout: Linux include/linux/hyperv.h, struct
// hv_ring_buffer and struct vmpacket_descriptor (both __packed), and the
// packet framing of drivers/hv/ring_buffer.c and channel.c.
//
// A ring is a run of whole pages: one header page, then the data area.
// Indices are byte offsets into the data area, not into the ring.
//
//   ring + 0x000 +-------------------------------+
//                | write_index     u32  @0       |  writer's; next byte to write
//                | read_index      u32  @4       |  reader's; next byte to read
//                | interrupt_mask  u32  @8       |  reader's: 1 = "draining, don't signal"
//                | pending_send_sz u32  @12      |  writer's: bytes a blocked write needs
//                | reserved1[12]        @16      |
//                | feature_bits    u32  @64      |  bit 0: pending_send_sz honoured
//                | reserved2            @68      |
//   ring + 0x1000+-------------------------------+  data area: size - 4096 bytes
//                | packet | packet | ...  (wraps)|
//   ring + size  +-------------------------------+
//
// One packet, 8-byte aligned, starting at the old write_index:
//
//   +0  +------+---------+------+-------+
//       | type | offset8 | len8 | flags |   u16 each
//   +8  +------+---------+------+-------+
//       | trans_id                u64   |
//   +16 +-------------------------------+   (offset8 * 8: where the payload starts;
//       | payload, zero-padded to 8     |    2 for packets this module writes)
//       +-------------------------------+   len8 * 8: descriptor + payload + padding
//       | trailer: (u64)start << 32     |   start = write_index before this packet
//       +-------------------------------+   the reader advances len8 * 8 + 8

// ---- header page (struct hv_ring_buffer) ----
export const RB_WRITE_INDEX: u32 = 0;
export const RB_READ_INDEX: u32 = 4;
export const RB_INTERRUPT_MASK: u32 = 8;
export const RB_PENDING_SEND_SZ: u32 = 12;
export const RB_FEATURE_BITS: u32 = 64;
/** feature_bits bit 0 (feat_pending_send_sz): the reader signals a writer blocked on pending_send_sz. */
export const RB_FEAT_PENDING_SEND_SZ: u32 = 1;
/** The data area starts one page into the ring (BUILD_BUG_ON(sizeof(struct hv_ring_buffer) != PAGE_SIZE)). */
export const RB_HEADER_SIZE: u32 = 4096;
/**
 * Largest ring this module accepts (header included): indices stay well
 * inside i32, so every free/available count is also a non-negative result.
 */
export const RB_MAX_SIZE: u32 = 1 << 30;

// ---- packet descriptor (struct vmpacket_descriptor) ----
export const PKT_TYPE: u32 = 0;
export const PKT_OFFSET8: u32 = 2;
export const PKT_LEN8: u32 = 4;
export const PKT_FLAGS: u32 = 6;
export const PKT_TRANS_ID: u32 = 8;
export const PKT_DESC_SIZE: u32 = 16;
/** VMBUS_PKT_TRAILER: the u64 after every packet. */
export const PKT_TRAILER: u32 = 8;
/** len8 is a u16: a packet (descriptor + payload + padding) is at most 65535 * 8 bytes. */
export const PKT_MAX_LEN: u32 = 0xffff * 8;

// ---- packet types (enum vmbus_packet_type) and flags ----
export const VM_PKT_SYNCH: u16 = 0x1;
export const VM_PKT_ADD_XFER_PAGESET: u16 = 0x2;
export const VM_PKT_RM_XFER_PAGESET: u16 = 0x3;
export const VM_PKT_ESTABLISH_GPADL: u16 = 0x4;
export const VM_PKT_TEARDOWN_GPADL: u16 = 0x5;
export const VM_PKT_DATA_INBAND: u16 = 0x6;
export const VM_PKT_DATA_USING_XFER_PAGES: u16 = 0x7;
export const VM_PKT_DATA_USING_GPADL: u16 = 0x8;
export const VM_PKT_DATA_USING_GPA_DIRECT: u16 = 0x9;
export const VM_PKT_CANCEL_REQUEST: u16 = 0xa;
export const VM_PKT_COMP: u16 = 0xb;
/** VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED */
export const VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED: u16 = 1;

// ---- results (i32; >= 0 succeeds) ----
// Every value a guest can write (indices, descriptors, mask, pending size)
// ends in one of these, never in an abort or an access outside the ring.
/** Done. */
export const RING_OK: i32 = 0;
/** Done, and the other side must be signalled (vmbus_setevent). */
export const RING_SIGNAL: i32 = 1;
/** Read: no packet. */
export const RING_EMPTY: i32 = -1;
/** Write: free <= needed (-EAGAIN); nothing written. */
export const RING_FULL: i32 = -2;
/** Read: the caller's buffer is smaller than the packet (-ENOBUFS); nothing consumed, the descriptor is returned. */
export const RING_NO_ROOM: i32 = -3;
/** read_index or write_index is past the data area or not 8-byte aligned (a corrupt or hostile peer). */
export const RING_BAD_INDEX: i32 = -4;
/** The next packet's descriptor is malformed: len8 * 8 < 16, offset8 * 8 < 16 or > len8 * 8, or it runs past the written bytes. */
export const RING_BAD_PACKET: i32 = -5;
/** The ring is not whole pages, is smaller than two pages or larger than RB_MAX_SIZE. */
export const RING_BAD_SIZE: i32 = -6;
/** Write: the packet does not fit in len8 (more than PKT_MAX_LEN bytes) or can never fit in this ring. */
export const RING_TOO_BIG: i32 = -7;
