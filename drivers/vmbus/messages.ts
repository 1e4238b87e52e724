// VMBus channel messages (Linux include/linux/hyperv.h, enum
// vmbus_channel_message_type and the struct vmbus_channel_* it names; all
// __packed, little-endian). Each starts with struct
// vmbus_channel_message_header {msgtype u32, padding u32}; they travel as
// SynIC message payloads (at most 240 bytes), message type 1.

export const Msg = {
  OFFERCHANNEL: 1,
  RESCIND_CHANNELOFFER: 2,
  REQUESTOFFERS: 3,
  ALLOFFERS_DELIVERED: 4,
  OPENCHANNEL: 5,
  OPENCHANNEL_RESULT: 6,
  CLOSECHANNEL: 7,
  GPADL_HEADER: 8,
  GPADL_BODY: 9,
  GPADL_CREATED: 10,
  GPADL_TEARDOWN: 11,
  GPADL_TORNDOWN: 12,
  RELID_RELEASED: 13,
  INITIATE_CONTACT: 14,
  VERSION_RESPONSE: 15,
  UNLOAD: 16,
  UNLOAD_RESPONSE: 17,
} as const;

/** The SynIC message type VMBus messages are posted and delivered with (Linux hv_post_message). */
export const VMBUS_MESSAGE_TYPE = 1;
/** SINT the host delivers VMBus messages and channel events on (VMBUS_MESSAGE_SINT). */
export const VMBUS_MESSAGE_SINT = 2;
/** Connection ids the guest posts to: 1 before protocol 5.0, 4 for INITIATE_CONTACT from 5.0 on. */
export const VMBUS_MESSAGE_CONNECTION_ID = 1;
export const VMBUS_MESSAGE_CONNECTION_ID_4 = 4;

/** Protocol versions (major << 16 | minor), newest first, as Linux's vmbus_versions[] tries them. */
export const VERSIONS = [0x5_0003, 0x5_0002, 0x5_0001, 0x5_0000, 0x4_0001, 0x4_0000, 0x3_0000, 0x2_0004] as const;
export const VERSION_WIN10_V5 = 0x5_0000;

// Field offsets (bytes from the start of the message, header included).
export const InitiateContact = { version: 8, targetVcpu: 12, msgSint: 16, size: 40 } as const;
export const VersionResponse = { supported: 8, connectionState: 9, msgConnId: 12, size: 16 } as const;
/** struct vmbus_channel_offer_channel: the offer (GUIDs, flags, user_def) then relid, monitor, connection id. */
export const OfferChannel = {
  ifType: 8, ifInstance: 24, chnFlags: 56, mmioMegabytes: 58, userDef: 60, userDefSize: 120, subChannelIndex: 180,
  childRelid: 184, monitorId: 188, monitorAllocated: 189, dedicatedInterrupt: 190, connectionId: 192, size: 196,
} as const;
export const GpadlHeader = { childRelid: 8, gpadl: 12, rangeBuflen: 16, rangeCount: 18, range: 20 } as const;
/** struct gpa_range: byte_count, byte_offset, pfn_array[]. */
export const GpaRange = { byteCount: 0, byteOffset: 4, pfns: 8 } as const;
export const GpadlBody = { msgNumber: 8, gpadl: 12, pfns: 16 } as const;
export const GpadlCreated = { childRelid: 8, gpadl: 12, status: 16, size: 20 } as const;
export const OpenChannel = { childRelid: 8, openId: 12, gpadl: 16, targetVp: 20, downstreamPageOffset: 24, userData: 28, size: 148 } as const;
export const OpenResult = { childRelid: 8, openId: 12, status: 16, size: 20 } as const;
export const CloseChannel = { childRelid: 8, size: 12 } as const;
export const GpadlTeardown = { childRelid: 8, gpadl: 12, size: 16 } as const;
export const GpadlTorndown = { gpadl: 8, size: 12 } as const;
export const RescindOffer = { childRelid: 8, size: 12 } as const;
export const RelidReleased = { childRelid: 8, size: 12 } as const;

/** A GUID as Windows and Linux lay it out (guid_t): the first three fields little-endian. */
export function guidBytes(guid: string): Uint8Array {
  const hex = guid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`not a GUID: ${guid}`);
  const b = Uint8Array.from(hex.match(/../g)!.map((x) => parseInt(x, 16)));
  const swap = (i: number, n: number) => b.subarray(i, i + n).reverse();
  swap(0, 4);
  swap(4, 2);
  swap(6, 2);
  return b;
}

/** A message buffer of `size` bytes with its msgtype set, and a DataView over it. */
export function message(type: number, size: number): { bytes: Uint8Array; dv: DataView } {
  const bytes = new Uint8Array(size);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, type, true);
  return { bytes, dv };
}
