// The synthetic NIC on VMBus: the host (VSP) side of NVSP and RNDIS as
// Linux's drivers/net/hyperv (netvsc.c, rndis_filter.c, hyperv_net.h,
// 6.12) speaks them, a faithful subset, joined to a port of the root's
// virtual switch (drivers/net/vswitch.ts).
//
//   guest (netvsc)                                  here
//   NVSP INIT(min = max = version), newest first ─► INIT_COMPLETE: status, version
//   SEND_NDIS_CONFIG (v2+: MTU), SEND_NDIS_VER ───► noted (no answer)
//   SEND_RECV_BUF(GPADL, id 0xcafe) ──────────────► SEND_RECV_BUF_COMPLETE: one section of
//                                                    1728-byte sub-allocations from offset 0
//   SEND_SEND_BUF(GPADL, id 0) ───────────────────► SEND_SEND_BUF_COMPLETE: 6144-byte sections
//   SEND_RNDIS_PKT(channel type, send-buffer ─────► SEND_RNDIS_PKT_COMPLETE (a completion);
//     section and size, or GPA-direct pages)        the RNDIS message (rndis.ts) is a frame for
//                                                    the switch or a control request
//   completion of a transfer-page packet ─────────► its receive section is free again
//                      control answer or frame ─► written into a free receive section, then a
//                                                  VM_PKT_DATA_USING_XFER_PAGES packet naming it
//                                                  (struct vmtransfer_page_packet_header, one range)
//
// NVSP messages are struct nvsp_message: msg_type u32 @0, then the
// message's fields from @4; Linux always sends 40 bytes (sizeof) and so do we.
//
// What the guest names is checked: its buffers are GPADLs of whole pages,
// a send-buffer section index and size lie inside the send buffer, data
// pages are its RAM (gpa-direct.ts), every copy goes through GuestMemory.
// A guest that breaks NVSP (a section past its send buffer, a message
// before INIT, a completion for a section not in use) loses the channel
// (EndpointFault, logged); a bad RNDIS message or an oversized frame is
// dropped and counted, and the guest gets its completion with
// NVSP_STAT_INVALID_RNDIS_PKT. A frame for a guest with no free receive
// section or no room in its ring is dropped and counted by the switch.
import type { VmbusDevice } from './channel-manager.ts';
import { formatMac, type PortCounters, type PortInfo, type SwitchNic, type SwitchPort, type VirtualSwitch } from '../net/vswitch.ts';
import { DeviceStateError } from '../emulated/device.ts';
import { ChannelEndpoint, EndpointFault, wantsCompletion, type Packet, type VmbusDeviceContext } from './endpoint.ts';
import { gather, gpaDirectBuffer, scatter, type DataBuffer, type Segment } from './gpa-direct.ts';
import { COMPLETION_REQUESTED, PacketType } from './ring.ts';
import { RndisError, RndisFunction, packetMessage } from './rndis.ts';

/** The network class GUID Linux's netvsc binds to (HV_NIC_GUID). */
export const NETVSC_CLASS_ID = 'f8615163-df3e-46c5-913f-f2d2f965ed0e';

export const NvspMsg = {
  INIT: 1,
  INIT_COMPLETE: 2,
  SEND_NDIS_VER: 100,
  SEND_RECV_BUF: 101,
  SEND_RECV_BUF_COMPLETE: 102,
  REVOKE_RECV_BUF: 103,
  SEND_SEND_BUF: 104,
  SEND_SEND_BUF_COMPLETE: 105,
  REVOKE_SEND_BUF: 106,
  SEND_RNDIS_PKT: 107,
  SEND_RNDIS_PKT_COMPLETE: 108,
  SEND_NDIS_CONFIG: 125, // NVSP_MSG2_TYPE_SEND_NDIS_CONFIG
} as const;
export const NvspStatus = { SUCCESS: 1, FAIL: 2, INVALID_RNDIS_PKT: 5 } as const;
/** NVSP_PROTOCOL_VERSION_61 down to _1, the ones Linux's netvsc_connect_vsp tries. */
export const NVSP_VERSIONS = [0x6_0001, 0x6_0000, 0x5_0000, 0x4_0000, 0x3_0002, 0x2] as const;
/** sizeof(struct nvsp_message) */
export const NVSP_MESSAGE_SIZE = 40;
/** NETVSC_RECV_SECTION_SIZE and NETVSC_SEND_SECTION_SIZE: what Hyper-V hands out. */
export const RECV_SECTION_SIZE = 1728;
export const SEND_SECTION_SIZE = 6144;
/** NETVSC_RECEIVE_BUFFER_SIZE and NETVSC_SEND_BUFFER_SIZE: the largest buffers Linux offers. */
export const MAX_RECV_BUFFER = 31 << 20;
export const MAX_SEND_BUFFER = 15 << 20;
/** NETVSC_INVALID_INDEX: the RNDIS message is not in the send buffer. */
export const NO_SECTION = 0xffff_ffff;
/** An RNDIS message in GPA-direct pages: at most a send section's worth plus room for a 64 KiB frame. */
const MAX_GPA_DIRECT = 64 << 10;
/** struct vmtransfer_page_packet_header after the descriptor, with one range. */
const XFER_HEADER = 16;
/** Control answers waiting for a free receive section (the guest sends one request at a time). */
const MAX_PENDING_CONTROL = 8;
/** RNDIS errors logged per channel opening; the rest are only counted. */
const LOGGED_ERRORS = 8;
export const MTU = 1500;

export const RNDIS_CHANNEL = { DATA: 0, CONTROL: 1 } as const;

interface GuestBuffer {
  gpadl: number;
  id: number;
  /** The GPADL's frames (set again from it after a restore). */
  pages: readonly bigint[];
  size: number;
}

interface ReceiveBuffer extends GuestBuffer {
  sections: number;
  /** Free sections, a stack; a section is in use from its transfer-page packet to the guest's completion. */
  free: number[];
  inUse: Uint8Array;
}

interface SendBuffer extends GuestBuffer {
  sections: number;
}

export interface NetvscOptions {
  instanceId: string;
  mac: Uint8Array;
  /** Port name in switch listings ("partition/index"). */
  name: string;
}

export class NetvscDevice extends ChannelEndpoint implements SwitchNic {
  readonly classId = NETVSC_CLASS_ID;
  readonly instanceId: string;
  /** A completion (40 bytes) and a transfer-page packet (16 + 40) may both answer one packet. */
  protected readonly maxReply = 128;
  readonly rndis: RndisFunction;
  /** Its port on the switch: a new one at each attach (a partition's boot), let go at detach. */
  get port(): SwitchPort {
    return this.switchPort;
  }
  private switchPort: SwitchPort;
  private readonly portName: string;
  /** The NVSP version settled on, 0 before INIT. */
  version = 0;
  ndisVersion = 0;
  /** What the guest's NIC dropped: malformed RNDIS, oversized frames (to the switch); no receive section (from it). */
  readonly drops = { malformed: 0, oversized: 0, noBuffer: 0 };
  /** Why the last RNDIS message was dropped (tests, logs). */
  lastError: string | undefined;
  private recv: ReceiveBuffer | undefined;
  private sendBuf: SendBuffer | undefined;
  private pending: Uint8Array[] = [];
  private errorsLogged = 0;

  constructor(
    private readonly sw: VirtualSwitch,
    options: NetvscOptions,
  ) {
    super();
    this.instanceId = options.instanceId;
    this.portName = options.name;
    this.rndis = new RndisFunction({ mac: options.mac, mtu: MTU, maxTransfer: SEND_SECTION_SIZE });
    this.switchPort = sw.connect(options.name, options.mac, this);
  }

  /** A rebooted partition's VMBus takes the NIC again: it gets a fresh port (no counters, nothing learned), as a VSP reset does. */
  override attach(ctx: VmbusDeviceContext): void {
    super.attach(ctx);
    if (!this.switchPort.connected) this.switchPort = this.sw.connect(this.portName, this.switchPort.mac, this);
  }

  /** SwitchNic: the guest's packet filter, once it can receive at all. */
  get filter(): number {
    return this.isOpen && this.recv && this.rndis.initialized ? this.rndis.filter : 0;
  }

  /** SwitchNic: a frame from the switch, into a receive section of the guest. */
  deliver(frame: Uint8Array): boolean {
    let ok = false;
    this.guarded(() => {
      ok = this.toGuest(packetMessage(frame), RNDIS_CHANNEL.DATA);
      if (!ok) this.drops.noBuffer++;
    });
    return ok;
  }

  // ---- persistence (runtime/persist/, the `vmbus` record) ----
  //
  // NVSP and RNDIS where they were, the buffers by GPADL handle (the channel
  // manager saves and checks the GPADLs; resume() takes their pages from it),
  // the receive sections in the order they will be handed out (the ones
  // missing are the guest's until it completes them: the pending
  // completions), control answers waiting for a section, and this NIC's
  // switch port: its MAC and counters. No frame is ever held here (each
  // crosses the switch inside the exit that sent it), and the switch's
  // learned MACs are not saved: a restored port relearns its MAC from the
  // next frame its guest sends, and until then frames for it flood, which
  // the other ports' MAC filtering drops (docs/vmbus.md).
  readonly stateVersion = 1;

  save(): object {
    const buf = (b: GuestBuffer) => ({ gpadl: b.gpadl, id: b.id, size: b.size });
    return {
      version: this.version,
      ndisVersion: this.ndisVersion,
      rndis: this.rndis.save(),
      recv: this.recv ? { ...buf(this.recv), free: [...this.recv.free] } : null,
      send: this.sendBuf ? buf(this.sendBuf) : null,
      pending: this.pending.map((m) => Buffer.from(m).toString('base64')),
      drops: { ...this.drops },
      port: { mac: formatMac(this.port.mac), counters: { ...this.port.counters } },
    };
  }

  restore(state: object): void {
    const s = state as Record<string, unknown>;
    const err = (field: string, what: string) => new DeviceStateError(`vmbus.netvsc.${field}: ${what}`);
    const count = (v: unknown, field: string, max = Number.MAX_SAFE_INTEGER) => {
      if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > max) throw err(field, `is not a count up to ${max}`);
      return v as number;
    };
    const obj = (v: unknown, field: string) => {
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw err(field, 'is not an object');
      return v as Record<string, unknown>;
    };
    if (s.version !== 0 && !(NVSP_VERSIONS as readonly unknown[]).includes(s.version)) throw err('version', 'is not an NVSP version we speak');
    const ndisVersion = count(s.ndisVersion, 'ndisVersion', 0xffff_ffff);
    const rndis = new RndisFunction(this.rndis.config);
    const bad = rndis.restore(obj(s.rndis, 'rndis'));
    if (bad) throw err('rndis', bad);
    const buffer = (v: unknown, field: string, section: number, max: number): GuestBuffer & { sections: number } => {
      const b = obj(v, field);
      const size = count(b.size, `${field}.size`, max);
      if (size % 4096 || size < section) throw err(`${field}.size`, `is not whole pages of at least ${section} bytes`);
      return { gpadl: count(b.gpadl, `${field}.gpadl`, 0xffff_ffff), id: count(b.id, `${field}.id`, 0xffff), pages: [], size, sections: Math.floor(size / section) };
    };
    let recv: ReceiveBuffer | undefined;
    if (s.recv !== null) {
      const b = buffer(s.recv, 'recv', RECV_SECTION_SIZE, MAX_RECV_BUFFER);
      const free = (s.recv as Record<string, unknown>).free;
      if (!Array.isArray(free)) throw err('recv.free', 'is not a list of sections');
      const inUse = new Uint8Array(b.sections).fill(1);
      free.forEach((f, i) => {
        const n = count(f, `recv.free[${i}]`, b.sections - 1);
        if (!inUse[n]) throw err(`recv.free[${i}]`, `section ${n} is free twice`);
        inUse[n] = 0;
      });
      recv = { ...b, free: free as number[], inUse };
    }
    const send = s.send === null ? undefined : buffer(s.send, 'send', SEND_SECTION_SIZE, MAX_SEND_BUFFER);
    if (!Array.isArray(s.pending) || s.pending.length > MAX_PENDING_CONTROL) throw err('pending', `is not a list of at most ${MAX_PENDING_CONTROL} answers`);
    const pending = s.pending.map((m, i) => {
      const bytes = typeof m === 'string' ? Buffer.from(m, 'base64') : undefined;
      if (!bytes || bytes.length === 0 || bytes.length > RECV_SECTION_SIZE) throw err(`pending[${i}]`, 'is not an RNDIS answer');
      return new Uint8Array(bytes);
    });
    const d = obj(s.drops, 'drops');
    const drops = { malformed: count(d.malformed, 'drops.malformed'), oversized: count(d.oversized, 'drops.oversized'), noBuffer: count(d.noBuffer, 'drops.noBuffer') };
    const port = obj(s.port, 'port');
    if (port.mac !== formatMac(this.port.mac)) throw err('port.mac', `is ${String(port.mac)}, this partition's NIC has ${formatMac(this.port.mac)}`);
    const c = obj(port.counters, 'port.counters');
    const counters = Object.fromEntries(Object.keys(this.port.counters).map((k) => [k, count(c[k], `port.counters.${k}`)])) as unknown as PortCounters;
    this.version = s.version as number;
    this.ndisVersion = ndisVersion;
    this.rndis.restore(rndis.save());
    this.recv = recv;
    this.sendBuf = send;
    this.pending = pending;
    Object.assign(this.drops, drops);
    Object.assign(this.port.counters, counters);
  }

  /** The channel open again after a restore: the buffers' pages from their GPADLs (restored by the channel manager). */
  override resume(...args: Parameters<ChannelEndpoint['resume']>): void {
    super.resume(...args);
    this.guarded(() => {
      for (const [b, what] of [[this.recv, 'receive'], [this.sendBuf, 'send']] as const) {
        if (!b) continue;
        const g = this.buffer(b.gpadl, b.id, b.size, b.size, what);
        if (!g) throw new EndpointFault(`netvsc: the restored ${what} buffer's GPADL ${b.gpadl} is gone or changed`);
        b.pages = g.pages;
      }
    });
  }

  /** The partition is gone or reboots: the port leaves the switch, as well as the channel's scratch pages going back. */
  override detach(): void {
    super.detach();
    this.port.disconnect();
  }

  protected override onOpen(): void {
    this.version = 0;
    this.recv = this.sendBuf = undefined;
    this.pending = [];
    this.errorsLogged = 0;
    this.rndis.reset();
  }

  override close(): void {
    super.close();
    this.recv = this.sendBuf = undefined;
    this.rndis.reset();
  }

  protected onPacket(p: Packet): void {
    const body = p.raw.subarray(p.offset);
    if (body.length < 4) throw new EndpointFault(`netvsc: NVSP message of ${body.length} bytes`);
    const msg = new DataView(body.buffer, body.byteOffset, body.length);
    const type = msg.getUint32(0, true);
    const need = (n: number) => {
      if (body.length < n) throw new EndpointFault(`netvsc: NVSP message ${type} of ${body.length} bytes, it needs ${n}`);
    };
    if (p.type === PacketType.COMP) {
      need(8);
      if (type !== NvspMsg.SEND_RNDIS_PKT_COMPLETE) throw new EndpointFault(`netvsc: completion carrying NVSP message ${type}`);
      this.released(p.transId);
      return;
    }
    if (p.type !== PacketType.DATA_INBAND && p.type !== PacketType.DATA_USING_GPA_DIRECT) {
      throw new EndpointFault(`netvsc: packet type ${p.type} (it takes inband, GPA-direct and completions)`);
    }
    if (type !== NvspMsg.INIT && !this.version) throw new EndpointFault(`netvsc: NVSP message ${type} before INIT`);
    const reply = (t: number, words: number[]) => {
      if (!wantsCompletion(p)) return;
      const out = new Uint8Array(NVSP_MESSAGE_SIZE);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, t, true);
      words.forEach((w, i) => dv.setUint32(4 + 4 * i, w >>> 0, true));
      this.complete(p.transId, out);
    };
    switch (type) {
      case NvspMsg.INIT: {
        need(12);
        const min = msg.getUint32(4, true);
        const max = msg.getUint32(8, true);
        const v = NVSP_VERSIONS.find((x) => x >= min && x <= max);
        if (v) this.version = v;
        // init_complete: negotiated_protocol_ver, max_mdl_chain_len, status
        reply(NvspMsg.INIT_COMPLETE, [v ?? 0, 0, v ? NvspStatus.SUCCESS : NvspStatus.FAIL]);
        return;
      }
      case NvspMsg.SEND_NDIS_VER:
        need(12);
        this.ndisVersion = (msg.getUint32(4, true) << 16) | msg.getUint32(8, true);
        return;
      case NvspMsg.SEND_NDIS_CONFIG:
        need(8); // the guest's MTU: ours stays what RNDIS reports
        return;
      case NvspMsg.SEND_RECV_BUF: {
        need(10);
        const r = this.receiveBuffer(msg.getUint32(4, true), msg.getUint16(8, true));
        // status, num_sections, sections[0] {offset, sub_alloc_size, num_sub_allocs, end_offset}
        if (!r) reply(NvspMsg.SEND_RECV_BUF_COMPLETE, [NvspStatus.FAIL, 0]);
        else reply(NvspMsg.SEND_RECV_BUF_COMPLETE, [NvspStatus.SUCCESS, 1, 0, RECV_SECTION_SIZE, r.sections, r.sections * RECV_SECTION_SIZE]);
        this.flushPending();
        return;
      }
      case NvspMsg.SEND_SEND_BUF: {
        need(10);
        const s = this.sendBuffer(msg.getUint32(4, true), msg.getUint16(8, true));
        reply(NvspMsg.SEND_SEND_BUF_COMPLETE, s ? [NvspStatus.SUCCESS, SEND_SECTION_SIZE] : [NvspStatus.FAIL, 0]);
        return;
      }
      case NvspMsg.REVOKE_RECV_BUF:
        need(6);
        if (this.recv?.id === msg.getUint16(4, true)) this.recv = undefined;
        return;
      case NvspMsg.REVOKE_SEND_BUF:
        need(6);
        if (this.sendBuf?.id === msg.getUint16(4, true)) this.sendBuf = undefined;
        return;
      case NvspMsg.SEND_RNDIS_PKT: {
        need(16);
        const status = this.rndisPacket(p, msg.getUint32(8, true), msg.getUint32(12, true));
        reply(NvspMsg.SEND_RNDIS_PKT_COMPLETE, [status]);
        return;
      }
      default:
        throw new EndpointFault(`netvsc: NVSP message type ${type} is not one we take`);
    }
  }

  // ---- the guest's buffers ----

  /** The guest's GPADL `handle` as a buffer of whole pages, at most `max` bytes; undefined (logged) if it is not one. */
  private buffer(handle: number, id: number, min: number, max: number, what: string): GuestBuffer | undefined {
    const g = this.ctx!.gpadl(handle);
    const bad = !g ? 'is not a complete GPADL' : g.byteOffset !== 0 || g.byteCount % 4096 ? 'is not whole pages' : g.byteCount < min || g.byteCount > max ? `has ${g.byteCount} bytes (${min}..${max})` : undefined;
    if (bad) {
      this.ctx!.log(`netvsc: ${what} buffer GPADL ${handle} ${bad}`);
      return undefined;
    }
    return { gpadl: handle, id, pages: g!.pfns, size: g!.byteCount };
  }

  private receiveBuffer(handle: number, id: number): ReceiveBuffer | undefined {
    if (this.recv) return undefined; // one receive buffer (Linux revokes before it sends another)
    const b = this.buffer(handle, id, RECV_SECTION_SIZE, MAX_RECV_BUFFER, 'receive');
    if (!b) return undefined;
    const sections = Math.floor(b.size / RECV_SECTION_SIZE);
    const free = Array.from({ length: sections }, (_, i) => sections - 1 - i); // section 0 on top
    this.recv = { ...b, sections, free, inUse: new Uint8Array(sections) };
    return this.recv;
  }

  private sendBuffer(handle: number, id: number): SendBuffer | undefined {
    if (this.sendBuf) return undefined;
    const b = this.buffer(handle, id, SEND_SECTION_SIZE, MAX_SEND_BUFFER, 'send');
    if (!b) return undefined;
    this.sendBuf = { ...b, sections: Math.floor(b.size / SEND_SECTION_SIZE) };
    return this.sendBuf;
  }

  /** `len` bytes at `offset` of a guest buffer, as pieces of guest-physical pages (each checked to be RAM). */
  private span(b: GuestBuffer, offset: number, len: number): DataBuffer {
    const segments: Segment[] = [];
    for (let at = offset; at < offset + len; ) {
      const gpa = Number(b.pages[Math.floor(at / 4096)]!) * 4096 + (at % 4096);
      const n = Math.min(4096 - (at % 4096), offset + len - at);
      if (!this.ctx!.guest.contains(gpa, n)) throw new EndpointFault(`netvsc: buffer page at 0x${gpa.toString(16)} is not the partition's RAM`);
      segments.push({ gpa, len: n });
      at += n;
    }
    return { segments, length: len };
  }

  // ---- guest -> host: RNDIS messages ----

  /** A SEND_RNDIS_PKT: the RNDIS message from the send buffer or GPA-direct pages, handled; returns the NVSP status. */
  private rndisPacket(p: Packet, section: number, size: number): number {
    let buf: DataBuffer;
    if (section !== NO_SECTION) {
      const s = this.sendBuf;
      if (!s) throw new EndpointFault(`netvsc: send-buffer section ${section} named with no send buffer`);
      if (section >= s.sections) throw new EndpointFault(`netvsc: send-buffer section ${section} past the ${s.sections} of the send buffer`);
      if (size > SEND_SECTION_SIZE) throw new EndpointFault(`netvsc: ${size} bytes in a ${SEND_SECTION_SIZE}-byte send section`);
      buf = this.span(s, section * SEND_SECTION_SIZE, size);
    } else if (p.type === PacketType.DATA_USING_GPA_DIRECT) {
      buf = gpaDirectBuffer(p.raw, p.offset, this.ctx!.guest, MAX_GPA_DIRECT);
    } else {
      throw new EndpointFault('netvsc: SEND_RNDIS_PKT with neither a send section nor pages');
    }
    const bytes = new Uint8Array(buf.length);
    gather(this.ctx!.guest, buf, bytes);
    let r;
    try {
      r = this.rndis.handle(bytes);
    } catch (e) {
      if (!(e instanceof RndisError)) throw e;
      if (e.oversized) this.drops.oversized++;
      else this.drops.malformed++;
      this.port.dropIn();
      this.lastError = e.message;
      if (this.errorsLogged++ < LOGGED_ERRORS) this.ctx!.log(`netvsc ${this.port.name}: dropped: ${e.message}`);
      return NvspStatus.INVALID_RNDIS_PKT;
    }
    if (r.kind === 'frame') this.port.send(r.frame);
    else if (r.kind === 'reply') {
      if (!this.toGuest(r.reply, RNDIS_CHANNEL.CONTROL)) {
        if (this.pending.length < MAX_PENDING_CONTROL) this.pending.push(r.reply);
        else this.ctx!.log(`netvsc ${this.port.name}: control answer dropped: ${MAX_PENDING_CONTROL} wait for receive sections`);
      }
    }
    return NvspStatus.SUCCESS;
  }

  // ---- host -> guest: receive sections and transfer-page packets ----

  /** Writes an RNDIS message into a free receive section and names it in a transfer-page packet; false if it cannot now. */
  private toGuest(message: Uint8Array, channelType: number): boolean {
    const r = this.recv;
    if (!r || !this.isOpen || message.length > RECV_SECTION_SIZE) return false;
    const section = r.free.pop();
    if (section === undefined) return false;
    scatter(this.ctx!.guest, this.span(r, section * RECV_SECTION_SIZE, message.length), message);
    const header = new Uint8Array(XFER_HEADER);
    const h = new DataView(header.buffer);
    h.setUint16(0, r.id, true); // xfer_pageset_id: the receive buffer's id
    h.setUint32(4, 1, true); // range_cnt
    h.setUint32(8, message.length, true); // ranges[0].byte_count
    h.setUint32(12, section * RECV_SECTION_SIZE, true); // ranges[0].byte_offset
    const nvsp = new Uint8Array(NVSP_MESSAGE_SIZE);
    const n = new DataView(nvsp.buffer);
    n.setUint32(0, NvspMsg.SEND_RNDIS_PKT, true);
    n.setUint32(4, channelType, true);
    n.setUint32(8, NO_SECTION, true);
    if (!this.trySend(PacketType.DATA_USING_XFER_PAGES, BigInt(section), nvsp, COMPLETION_REQUESTED, header)) {
      r.free.push(section);
      return false;
    }
    r.inUse[section] = 1;
    return true;
  }

  /** The guest completed transfer-page packet `transId`: its section is free; waiting control answers go out. */
  private released(transId: bigint): void {
    const r = this.recv;
    const s = Number(transId);
    if (!r || transId >= BigInt(r.sections) || !r.inUse[s]) throw new EndpointFault(`netvsc: completion ${transId} for a receive section not in use`);
    r.inUse[s] = 0;
    r.free.push(s);
    this.flushPending();
  }

  private flushPending(): void {
    while (this.pending.length && this.toGuest(this.pending[0]!, RNDIS_CHANNEL.CONTROL)) this.pending.shift();
  }
}

/** The switch ports of the NICs among a partition's VMBus devices, in NIC order (those still on the switch). */
export function nicPorts(devices: readonly VmbusDevice[]): PortInfo[] {
  return devices.flatMap((d) => (d instanceof NetvscDevice && d.port.connected ? [d.port.info()] : []));
}

/** The instance GUID of a partition's `n`th NIC: fixed, so the guest sees the same NIC at every boot. */
export function netvscInstanceId(n: number): string {
  return `9a1c0e5b-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}
