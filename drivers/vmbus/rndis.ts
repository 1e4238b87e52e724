// The RNDIS function behind a synthetic NIC (netvsc.ts): the messages
// Linux's drivers/net/hyperv/rndis_filter.c exchanges with the host, as a
// parser and a builder over plain bytes, so it can be fuzzed on its own.
// Layouts (include/linux/rndis.h, drivers/net/hyperv/hyperv_net.h; all
// little-endian u32):
//
//   struct rndis_message           ndis_msg_type @0, msg_len @4, body @8
//   rndis_initialize_request @8    req_id, major_ver, minor_ver, max_xfer_size
//   rndis_initialize_complete @8   req_id, status, major_ver, minor_ver, dev_flags, medium,
//                                  max_pkt_per_msg, max_xfer_size, pkt_alignment_factor,
//                                  af_list_offset, af_list_size
//   rndis_query_request @8         req_id, oid, info_buflen, info_buf_offset, dev_vc_handle
//   rndis_query_complete @8        req_id, status, info_buflen, info_buf_offset
//   rndis_set_request @8           req_id, oid, info_buflen, info_buf_offset, dev_vc_handle
//   rndis_set_complete @8          req_id, status
//   rndis_packet @8                data_offset, data_len, oob_data_offset, oob_data_len,
//                                  num_oob_data_elements, per_pkt_info_offset,
//                                  per_pkt_info_len, vc_handle, reserved
//
// info_buf_offset and data_offset count from the start of the body (req_id
// or data_offset), not of the message: Linux reads the answer at
// `&query_complete->req_id + info_buf_offset`.
//
// Every offset and length the guest gives is checked against the message
// and the message against the bytes it came in; a message that fails is an
// RndisError (the NIC drops it and counts it), never a read outside them.

export const RndisMsg = {
  PACKET: 0x1,
  INIT: 0x2,
  HALT: 0x3,
  QUERY: 0x4,
  SET: 0x5,
  RESET: 0x6,
  INDICATE: 0x7,
  KEEPALIVE: 0x8,
  COMPLETION: 0x8000_0000,
} as const;

export const RndisStatus = {
  SUCCESS: 0,
  FAILURE: 0xc000_0001,
  NOT_SUPPORTED: 0xc000_00bb,
  INVALID_DATA: 0xc001_0015,
} as const;

/** The OIDs we answer (RNDIS_OID_*). */
export const Oid = {
  GEN_MAXIMUM_FRAME_SIZE: 0x0001_0106, // Linux's MTU query (rndis_filter_query_device_mtu)
  GEN_LINK_SPEED: 0x0001_0107,
  GEN_CURRENT_PACKET_FILTER: 0x0001_010e,
  GEN_MEDIA_CONNECT_STATUS: 0x0001_0114,
  PERMANENT_ADDRESS: 0x0101_0101,
  CURRENT_ADDRESS: 0x0101_0102,
} as const;

/** RNDIS_PACKET_TYPE_*: what the guest asks to receive (OID_GEN_CURRENT_PACKET_FILTER). */
export const PacketFilter = { DIRECTED: 0x1, MULTICAST: 0x2, ALL_MULTICAST: 0x4, BROADCAST: 0x8, PROMISCUOUS: 0x20 } as const;
const KNOWN_FILTER_BITS = 0xffff;

export const RNDIS_HEADER = 8;
/** sizeof(struct rndis_packet) */
export const RNDIS_PACKET = 36;
const INIT_REQUEST = 16;
const QUERY_REQUEST = 20;
const SET_REQUEST = 20;
const MEDIA_STATE_CONNECTED = 0;
const DF_CONNECTIONLESS = 1;
const MEDIUM_802_3 = 0;
/** Packets per message and alignment we announce: one frame per message, 8-byte aligned (2^3). */
const MAX_PKT_PER_MSG = 1;
const PKT_ALIGNMENT_FACTOR = 3;
/** Link speed in units of 100 bit/s: 10 Gbit/s, as Hyper-V's synthetic NIC reports it. */
const LINK_SPEED = 100_000_000;

/** A message the guest should not have sent: dropped, counted, logged. */
export class RndisError extends Error {
  constructor(
    message: string,
    /** A well-formed packet whose frame is longer than the MTU allows. */
    readonly oversized = false,
  ) {
    super(message);
    this.name = 'RndisError';
  }
}

export type RndisResult =
  /** An Ethernet frame to send (a view into the message). */
  | { kind: 'frame'; frame: Uint8Array }
  /** A control message's completion, to go back to the guest. */
  | { kind: 'reply'; reply: Uint8Array }
  /** Nothing to answer (HALT, an indication). */
  | { kind: 'none' };

export interface RndisConfig {
  mac: Uint8Array;
  /** The largest Ethernet payload (1500); a frame is at most this plus its 14-byte header (18 with an 802.1Q tag). */
  mtu: number;
  /** The largest message the guest may send (our max_xfer_size). */
  maxTransfer: number;
}

export class RndisFunction {
  private state: 'uninitialized' | 'initialized' | 'halted' = 'uninitialized';
  /** The guest's packet filter (RNDIS_PACKET_TYPE_*); 0 receives nothing. */
  filter = 0;

  constructor(readonly config: RndisConfig) {}

  get initialized(): boolean {
    return this.state === 'initialized';
  }

  /** The largest frame the NIC passes, header included (802.1Q tag allowed). */
  get maxFrame(): number {
    return this.config.mtu + 18;
  }

  /** The function's state for a save (netvsc.ts): where INITIALIZE/HALT left it and the packet filter. */
  save(): { state: string; filter: number } {
    return { state: this.state, filter: this.filter };
  }

  /** Loads what save() returned; a message naming what does not fit, or undefined when loaded. */
  restore(s: { state?: unknown; filter?: unknown }): string | undefined {
    if (s.state !== 'uninitialized' && s.state !== 'initialized' && s.state !== 'halted') return 'state is not an RNDIS state';
    if (!Number.isInteger(s.filter) || (s.filter as number) < 0 || (s.filter as number) & ~KNOWN_FILTER_BITS) return 'filter is not a packet filter';
    this.state = s.state;
    this.filter = s.filter as number;
    return undefined;
  }

  /** Back to before RNDIS INITIALIZE (the channel reopened). */
  reset(): void {
    this.state = 'uninitialized';
    this.filter = 0;
  }

  /** One message from the guest, `bytes` being what carried it (it may be longer). Throws RndisError. */
  handle(bytes: Uint8Array): RndisResult {
    if (bytes.length < RNDIS_HEADER) throw new RndisError(`RNDIS message of ${bytes.length} bytes has no header`);
    const dv = view(bytes);
    const type = dv.getUint32(0, true);
    const len = dv.getUint32(4, true);
    if (len < RNDIS_HEADER || len > bytes.length) throw new RndisError(`RNDIS message ${hex(type)}: msg_len ${len} outside the ${bytes.length} bytes it came in`);
    const msg = new DataView(bytes.buffer, bytes.byteOffset, len);
    const need = (n: number) => {
      if (len < RNDIS_HEADER + n) throw new RndisError(`RNDIS message ${hex(type)} of ${len} bytes, it needs ${RNDIS_HEADER + n}`);
    };
    if (type === RndisMsg.INIT) {
      need(INIT_REQUEST);
      return this.init(msg);
    }
    if (this.state !== 'initialized') throw new RndisError(`RNDIS message ${hex(type)} before INITIALIZE`);
    switch (type) {
      case RndisMsg.PACKET:
        need(RNDIS_PACKET);
        return this.packet(bytes.subarray(0, len), msg);
      case RndisMsg.QUERY:
        need(QUERY_REQUEST);
        return this.query(msg);
      case RndisMsg.SET:
        need(SET_REQUEST);
        return this.set(msg);
      case RndisMsg.RESET:
        this.filter = 0;
        return reply(RndisMsg.RESET, [RndisStatus.SUCCESS, 0]); // status, addressing_reset
      case RndisMsg.KEEPALIVE:
        need(4);
        return reply(RndisMsg.KEEPALIVE, [msg.getUint32(8, true), RndisStatus.SUCCESS]);
      case RndisMsg.HALT:
        this.state = 'halted';
        this.filter = 0;
        return { kind: 'none' };
      default:
        throw new RndisError(`RNDIS message type ${hex(type)} is not one a guest sends`);
    }
  }

  private init(msg: DataView): RndisResult {
    const reqId = msg.getUint32(8, true);
    const major = msg.getUint32(12, true);
    const ok = major === 1; // RNDIS_MAJOR_VERSION; Linux sends 1.0
    if (ok) {
      this.state = 'initialized';
      this.filter = 0;
    }
    return reply(RndisMsg.INIT, [
      reqId, ok ? RndisStatus.SUCCESS : RndisStatus.NOT_SUPPORTED, 1, 0, DF_CONNECTIONLESS, MEDIUM_802_3, MAX_PKT_PER_MSG,
      this.config.maxTransfer, PKT_ALIGNMENT_FACTOR, 0, 0,
    ]);
  }

  private query(msg: DataView): RndisResult {
    const reqId = msg.getUint32(8, true);
    const oid = msg.getUint32(12, true);
    let info: Uint8Array | undefined;
    const u32 = (v: number) => {
      const b = new Uint8Array(4);
      view(b).setUint32(0, v, true);
      return b;
    };
    switch (oid) {
      case Oid.PERMANENT_ADDRESS:
      case Oid.CURRENT_ADDRESS:
        info = this.config.mac.slice();
        break;
      case Oid.GEN_MAXIMUM_FRAME_SIZE:
        info = u32(this.config.mtu);
        break;
      case Oid.GEN_MEDIA_CONNECT_STATUS:
        info = u32(MEDIA_STATE_CONNECTED);
        break;
      case Oid.GEN_LINK_SPEED:
        info = u32(LINK_SPEED);
        break;
      case Oid.GEN_CURRENT_PACKET_FILTER:
        info = u32(this.filter);
        break;
    }
    // rndis_query_complete: req_id, status, info_buflen, info_buf_offset (16: right after it), info.
    const out = reply(RndisMsg.QUERY, [reqId, info ? RndisStatus.SUCCESS : RndisStatus.NOT_SUPPORTED, info?.length ?? 0, info ? 16 : 0], info?.length ?? 0);
    if (info) out.reply.set(info, RNDIS_HEADER + 16);
    return out;
  }

  private set(msg: DataView): RndisResult {
    const reqId = msg.getUint32(8, true);
    const oid = msg.getUint32(12, true);
    const buflen = msg.getUint32(16, true);
    const offset = msg.getUint32(20, true);
    // The info buffer must lie inside the message (offsets from the body's start).
    if (offset < SET_REQUEST || offset > msg.byteLength - RNDIS_HEADER || buflen > msg.byteLength - RNDIS_HEADER - offset) {
      throw new RndisError(`RNDIS SET ${hex(oid)}: info buffer ${offset}+${buflen} outside the ${msg.byteLength}-byte message`);
    }
    let status: number = RndisStatus.NOT_SUPPORTED;
    if (oid === Oid.GEN_CURRENT_PACKET_FILTER) {
      if (buflen < 4) status = RndisStatus.INVALID_DATA;
      else {
        const filter = msg.getUint32(RNDIS_HEADER + offset, true);
        if (filter & ~KNOWN_FILTER_BITS) status = RndisStatus.INVALID_DATA;
        else {
          this.filter = filter;
          status = RndisStatus.SUCCESS;
        }
      }
    }
    return reply(RndisMsg.SET, [reqId, status]);
  }

  private packet(bytes: Uint8Array, msg: DataView): RndisResult {
    const dataOffset = msg.getUint32(8, true);
    const dataLen = msg.getUint32(12, true);
    const room = msg.byteLength - RNDIS_HEADER;
    if (dataOffset < RNDIS_PACKET || dataOffset > room || dataLen > room - dataOffset) {
      throw new RndisError(`RNDIS packet: data ${dataOffset}+${dataLen} outside the ${msg.byteLength}-byte message`);
    }
    if (dataLen < 14) throw new RndisError(`RNDIS packet: a frame of ${dataLen} bytes has no Ethernet header`);
    if (dataLen > this.maxFrame) throw new RndisError(`RNDIS packet: a frame of ${dataLen} bytes, over the ${this.maxFrame} an MTU of ${this.config.mtu} allows`, true);
    const at = RNDIS_HEADER + dataOffset;
    return { kind: 'frame', frame: bytes.subarray(at, at + dataLen) };
  }
}

/** A received frame as the guest gets it: an RNDIS_MSG_PACKET with the frame right after the header, padded to 8. */
export function packetMessage(frame: Uint8Array): Uint8Array {
  const len = (RNDIS_HEADER + RNDIS_PACKET + frame.length + 7) & ~7;
  const out = new Uint8Array(len);
  const dv = view(out);
  dv.setUint32(0, RndisMsg.PACKET, true);
  dv.setUint32(4, len, true);
  dv.setUint32(8, RNDIS_PACKET, true); // data_offset
  dv.setUint32(12, frame.length, true); // data_len
  out.set(frame, RNDIS_HEADER + RNDIS_PACKET);
  return out;
}

/** The bytes a received frame of `frameLen` bytes takes as an RNDIS message. */
export const packetMessageSize = (frameLen: number): number => (RNDIS_HEADER + RNDIS_PACKET + frameLen + 7) & ~7;

/** A completion message of request `type`: header, then `words`, then `extra` zero bytes. */
function reply(type: number, words: number[], extra = 0): { kind: 'reply'; reply: Uint8Array } {
  const len = RNDIS_HEADER + 4 * words.length + extra;
  const out = new Uint8Array(len);
  const dv = view(out);
  dv.setUint32(0, (type | RndisMsg.COMPLETION) >>> 0, true);
  dv.setUint32(4, len, true);
  words.forEach((w, i) => dv.setUint32(RNDIS_HEADER + 4 * i, w >>> 0, true));
  return { kind: 'reply', reply: out };
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;
