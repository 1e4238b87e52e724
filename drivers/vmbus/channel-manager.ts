// The root partition's VMBus channel manager for one partition: the host
// side of Linux's drivers/hv/connection.c and channel_mgmt.c. It answers
// the guest's channel messages (posted through the SynIC), offers the
// partition's synthetic devices as channels, keeps the guest's GPADLs and
// opens a channel's rings for its device.
//
//   guest                                 host (this file)
//   INITIATE_CONTACT(version) ──────────► VERSION_RESPONSE (supported or not:
//                                          the guest tries the next older one)
//   REQUESTOFFERS ──────────────────────► OFFERCHANNEL per device, ALLOFFERS_DELIVERED
//   GPADL_HEADER (+ GPADL_BODY ...) ────► GPADL_CREATED (every page checked to be RAM)
//   OPENCHANNEL(relid, gpadl, offset) ──► OPENCHANNEL_RESULT; the device gets its rings
//   CLOSECHANNEL ───────────────────────► (no reply) the device lets go of its rings
//   GPADL_TEARDOWN ─────────────────────► GPADL_TORNDOWN
//   UNLOAD ─────────────────────────────► UNLOAD_RESPONSE, everything closed
//                  remove(device) ──────► RESCIND_CHANNELOFFER; the guest answers RELID_RELEASED
//
// Nothing the guest sends can make it throw: a message that is malformed
// or comes in the wrong state is refused (returned, and logged with its
// reason), and for a channel it names, that channel is closed; the other
// channels go on.
import {
  CloseChannel, GpaRange, GpadlBody, GpadlCreated, GpadlHeader, GpadlTeardown, GpadlTorndown, InitiateContact, Msg,
  OfferChannel, OpenChannel, OpenResult, RelidReleased, RescindOffer, VERSIONS, VERSION_WIN10_V5, VersionResponse,
  VMBUS_MESSAGE_CONNECTION_ID, VMBUS_MESSAGE_CONNECTION_ID_4, guidBytes, message,
} from './messages.ts';
import type { VmbusDeviceContext } from './endpoint.ts';

const PAGE = 4096;

/** The rings of an open channel, in host memory (each contiguous: header page + data). */
export interface ChannelRings {
  /** Guest -> host ring (the GPADL's first pages). */
  outbound: { addr: number; size: number };
  /** Host -> guest ring (from downstream_ringbuffer_pageoffset). */
  inbound: { addr: number; size: number };
  /** The vCPU the guest asked to be interrupted on (target_vp). */
  targetVp: number;
  /** The 120 bytes of OPENCHANNEL userdata. */
  userData: Uint8Array;
}

/** A synthetic device offered to the guest as a channel. */
export interface VmbusDevice {
  /** Class GUID (if_type), e.g. storvsc's ba6163d9-04a1-4d29-b605-72e2ffb1dc7f. */
  readonly classId: string;
  /** Instance GUID (if_instance). */
  readonly instanceId: string;
  /** Called once, before any open: what the device needs of its partition (endpoint.ts). */
  attach?(ctx: VmbusDeviceContext): void;
  /**
   * The rings are the device's until close(); `signal` interrupts the guest
   * for this channel; `fail` closes the channel from the host's side, with
   * the reason logged (a guest that broke the device's protocol).
   */
  open(rings: ChannelRings, signal: () => void, fail: (reason: string) => void): void;
  /** The guest signalled the channel (its outbound ring has packets, or room). */
  notify(): void;
  close(): void;
}

/** What the channel manager needs of its partition. */
export interface ChannelManagerHost {
  /** Sends a channel message to the guest (the SynIC message slot of the VMBus SINT on `vp`); false if it could not. */
  send(vp: number, payload: Uint8Array): boolean;
  /** Sets the channel's event flag (relid) on `vp` and interrupts it. */
  signal(vp: number, relid: number): void;
  /** Host address of guest-physical frame `pfn`, or undefined when it is not the partition's RAM. */
  frameHost(pfn: bigint): number | undefined;
  /** Number of vCPUs (target_vp and target_vcpu must name one). */
  vcpus: number;
  log(line: string): void;
}

type ChannelState = 'offered' | 'open' | 'rescinded';

interface Channel {
  relid: number;
  device: VmbusDevice;
  state: ChannelState;
  targetVp: number;
  gpadl?: number;
}

interface Gpadl {
  relid: number;
  pfns: bigint[];
  expected: number;
  byteOffset: number;
  byteCount: number;
  created: boolean;
}

/** A refused message: what it was and why (also logged). */
export interface Refusal {
  msgtype: number;
  reason: string;
}

export type ConnectionState = 'disconnected' | 'connected';

/** GPADLs a guest may hold at once, and pages in one (bounds host memory a guest can make us keep). */
export const MAX_GPADLS = 256;
export const MAX_GPADL_PAGES = 1 << 18; // 1 GiB

export class ChannelManager {
  private state: ConnectionState = 'disconnected';
  private version = 0;
  private vp = 0;
  private readonly channels = new Map<number, Channel>();
  private readonly gpadls = new Map<number, Gpadl>();
  private nextRelid = 1;
  /** Refusals so far (for tests and hv's statistics). */
  readonly refusals: Refusal[] = [];
  /** Channels their device closed because the guest broke its protocol: relid and reason. */
  readonly faults: { relid: number; reason: string }[] = [];

  constructor(private readonly host: ChannelManagerHost) {}

  get connection(): { state: ConnectionState; version: number } {
    return { state: this.state, version: this.version };
  }

  /** Adds a device: offered now if the guest is connected (a hot add), else at its next REQUESTOFFERS. Returns its relid. */
  add(device: VmbusDevice): number {
    const relid = this.nextRelid++;
    this.channels.set(relid, { relid, device, state: 'offered', targetVp: 0 });
    if (this.state === 'connected') this.offer(this.channels.get(relid)!);
    return relid;
  }

  /** Removes a device while the guest runs: closes its channel and rescinds the offer. */
  remove(relid: number): void {
    const ch = this.channels.get(relid);
    if (!ch || ch.state === 'rescinded') return;
    this.closeChannel(ch);
    ch.state = 'rescinded';
    if (this.state !== 'connected') {
      this.channels.delete(relid);
      return;
    }
    const { bytes, dv } = message(Msg.RESCIND_CHANNELOFFER, RescindOffer.size);
    dv.setUint32(RescindOffer.childRelid, relid, true);
    this.host.send(this.vp, bytes);
  }

  /** Channels and their states (for `hv` listings and tests). */
  list(): { relid: number; classId: string; instanceId: string; state: ChannelState }[] {
    return [...this.channels.values()].map((c) => ({ relid: c.relid, classId: c.device.classId, instanceId: c.device.instanceId, state: c.state }));
  }

  /** The guest signalled connection `id` (our channels' connection id is their relid). */
  signalled(id: number): void {
    const ch = this.channels.get(id);
    if (ch?.state === 'open') ch.device.notify();
  }

  /**
   * A message the guest posted to connection `connectionId`. Returns the
   * refusal, if any; a post to a connection that is not VMBus's is one too
   * (the caller answers the hypercall with INVALID_PARAM).
   */
  receive(connectionId: number, payload: Uint8Array): Refusal | undefined {
    if (connectionId !== VMBUS_MESSAGE_CONNECTION_ID && connectionId !== VMBUS_MESSAGE_CONNECTION_ID_4) {
      return this.refuse(0, `posted to connection ${connectionId}, which is not VMBus's (1 or 4)`);
    }
    if (payload.length < 8) return this.refuse(0, `message of ${payload.length} bytes has no header`);
    const dv = new DataView(payload.buffer, payload.byteOffset, payload.length);
    const type = dv.getUint32(0, true);
    const short = (n: number): Refusal | undefined =>
      payload.length < n ? this.refuse(type, `message ${type} is ${payload.length} bytes, it needs ${n}`) : undefined;
    if (type === Msg.INITIATE_CONTACT) return short(InitiateContact.msgSint + 1) ?? this.initiateContact(dv);
    if (this.state !== 'connected') return this.refuse(type, `message ${type} before INITIATE_CONTACT succeeded`);
    switch (type) {
      case Msg.REQUESTOFFERS:
        return this.requestOffers();
      case Msg.GPADL_HEADER:
        return short(GpadlHeader.range + GpaRange.pfns) ?? this.gpadlHeader(dv, payload.length);
      case Msg.GPADL_BODY:
        return short(GpadlBody.pfns) ?? this.gpadlBody(dv, payload.length);
      case Msg.OPENCHANNEL:
        return short(OpenChannel.size) ?? this.openChannel(dv, payload);
      case Msg.CLOSECHANNEL:
        return short(CloseChannel.size) ?? this.close(dv.getUint32(CloseChannel.childRelid, true));
      case Msg.GPADL_TEARDOWN:
        return short(GpadlTeardown.size) ?? this.gpadlTeardown(dv);
      case Msg.RELID_RELEASED:
        return short(RelidReleased.size) ?? this.relidReleased(dv.getUint32(RelidReleased.childRelid, true));
      case Msg.UNLOAD:
        return this.unload();
      default:
        return this.refuse(type, `message type ${type} is not one a guest sends`);
    }
  }

  // ---- the messages ----

  private initiateContact(dv: DataView): Refusal | undefined {
    const version = dv.getUint32(InitiateContact.version, true);
    const vcpu = dv.getUint32(InitiateContact.targetVcpu, true);
    if (vcpu >= this.host.vcpus) return this.refuse(Msg.INITIATE_CONTACT, `target_vcpu ${vcpu} is not a vCPU (0-${this.host.vcpus - 1})`);
    const supported = (VERSIONS as readonly number[]).includes(version);
    if (supported) {
      if (this.state === 'connected') this.reset(); // a guest reconnecting (kexec, a new driver) starts afresh
      this.state = 'connected';
      this.version = version;
      this.vp = vcpu;
    }
    const { bytes, dv: r } = message(Msg.VERSION_RESPONSE, VersionResponse.size);
    r.setUint8(VersionResponse.supported, supported ? 1 : 0);
    // From 5.0 the guest posts later messages to the connection id we name here.
    if (supported && version >= VERSION_WIN10_V5) r.setUint32(VersionResponse.msgConnId, VMBUS_MESSAGE_CONNECTION_ID, true);
    this.host.send(vcpu, bytes);
    return undefined;
  }

  private requestOffers(): undefined {
    for (const ch of this.channels.values()) if (ch.state !== 'rescinded') this.offer(ch);
    this.host.send(this.vp, message(Msg.ALLOFFERS_DELIVERED, 8).bytes);
    return undefined;
  }

  private offer(ch: Channel): void {
    const { bytes, dv } = message(Msg.OFFERCHANNEL, OfferChannel.size);
    bytes.set(guidBytes(ch.device.classId), OfferChannel.ifType);
    bytes.set(guidBytes(ch.device.instanceId), OfferChannel.ifInstance);
    dv.setUint32(OfferChannel.childRelid, ch.relid, true);
    dv.setUint16(OfferChannel.dedicatedInterrupt, 1, true); // no shared interrupt page: signal_event per channel
    dv.setUint32(OfferChannel.connectionId, ch.relid, true);
    this.host.send(this.vp, bytes);
  }

  private gpadlHeader(dv: DataView, len: number): Refusal | undefined {
    const relid = dv.getUint32(GpadlHeader.childRelid, true);
    const handle = dv.getUint32(GpadlHeader.gpadl, true);
    const ranges = dv.getUint16(GpadlHeader.rangeCount, true);
    // The guest waits for GPADL_CREATED (Linux: wait_for_completion): a refusal answers with a failure status.
    const fail = (reason: string) => {
      this.created(relid, handle, 1);
      return this.refuse(Msg.GPADL_HEADER, reason, relid, this.gpadls.get(handle)?.created ? undefined : handle);
    };
    if (!this.channels.has(relid)) return fail(`GPADL ${handle} for relid ${relid}, which was not offered`);
    if (this.gpadls.has(handle)) return fail(`GPADL ${handle} exists already`);
    if (this.gpadls.size >= MAX_GPADLS) return fail(`more than ${MAX_GPADLS} GPADLs`);
    if (ranges !== 1) return fail(`GPADL ${handle} has ${ranges} ranges (Linux sends one; so do we take)`);
    const r = GpadlHeader.range;
    const byteCount = dv.getUint32(r + GpaRange.byteCount, true);
    const byteOffset = dv.getUint32(r + GpaRange.byteOffset, true);
    if (byteOffset >= PAGE || byteCount === 0) return fail(`GPADL ${handle}: byte_offset ${byteOffset}, byte_count ${byteCount}`);
    const expected = Math.ceil((byteOffset + byteCount) / PAGE);
    if (expected > MAX_GPADL_PAGES) return fail(`GPADL ${handle} of ${expected} pages (at most ${MAX_GPADL_PAGES})`);
    const g: Gpadl = { relid, pfns: [], expected, byteOffset, byteCount, created: false };
    this.gpadls.set(handle, g);
    return this.takePfns(handle, g, dv, r + GpaRange.pfns, len);
  }

  private gpadlBody(dv: DataView, len: number): Refusal | undefined {
    const handle = dv.getUint32(GpadlBody.gpadl, true);
    const g = this.gpadls.get(handle);
    if (!g || g.created) return this.refuse(Msg.GPADL_BODY, `GPADL_BODY for GPADL ${handle}, which is ${g ? 'complete' : 'unknown'}`);
    return this.takePfns(handle, g, dv, GpadlBody.pfns, len);
  }

  private takePfns(handle: number, g: Gpadl, dv: DataView, from: number, len: number): Refusal | undefined {
    for (let at = from; at + 8 <= len && g.pfns.length < g.expected; at += 8) g.pfns.push(dv.getBigUint64(at, true));
    if (g.pfns.length < g.expected) return undefined; // GPADL_BODY messages follow
    // Every page must be the partition's RAM, or the host would read or
    // write outside it on the guest's word.
    const bad = g.pfns.findIndex((pfn) => this.host.frameHost(pfn) === undefined);
    if (bad >= 0) {
      this.gpadls.delete(handle);
      this.created(g.relid, handle, 1);
      return this.refuse(Msg.GPADL_HEADER, `GPADL ${handle}: page ${bad} (pfn 0x${g.pfns[bad]!.toString(16)}) is not the partition's RAM`);
    }
    g.created = true;
    this.created(g.relid, handle, 0);
    return undefined;
  }

  private created(relid: number, handle: number, status: number): void {
    const { bytes, dv } = message(Msg.GPADL_CREATED, GpadlCreated.size);
    dv.setUint32(GpadlCreated.childRelid, relid, true);
    dv.setUint32(GpadlCreated.gpadl, handle, true);
    dv.setUint32(GpadlCreated.status, status, true);
    this.host.send(this.vp, bytes);
  }

  private openChannel(dv: DataView, payload: Uint8Array): Refusal | undefined {
    const relid = dv.getUint32(OpenChannel.childRelid, true);
    const openId = dv.getUint32(OpenChannel.openId, true);
    const handle = dv.getUint32(OpenChannel.gpadl, true);
    const targetVp = dv.getUint32(OpenChannel.targetVp, true);
    const offset = dv.getUint32(OpenChannel.downstreamPageOffset, true);
    const ch = this.channels.get(relid);
    const result = (status: number) => {
      const { bytes, dv: r } = message(Msg.OPENCHANNEL_RESULT, OpenResult.size);
      r.setUint32(OpenResult.childRelid, relid, true);
      r.setUint32(OpenResult.openId, openId, true);
      r.setUint32(OpenResult.status, status, true);
      this.host.send(this.vp, bytes);
    };
    const fail = (reason: string) => {
      if (ch?.state === 'offered') result(1);
      return this.refuse(Msg.OPENCHANNEL, reason, relid);
    };
    if (!ch || ch.state !== 'offered') return fail(`OPENCHANNEL for relid ${relid}, which is ${ch ? ch.state : 'not offered'}`);
    if (targetVp >= this.host.vcpus) return fail(`target_vp ${targetVp} is not a vCPU`);
    const g = this.gpadls.get(handle);
    if (!g?.created || g.relid !== relid) return fail(`ring GPADL ${handle} is not a complete GPADL of relid ${relid}`);
    const pages = g.pfns.length;
    if (g.byteOffset !== 0 || g.byteCount !== pages * PAGE) return fail(`ring GPADL ${handle} is not whole pages`);
    if (offset < 2 || pages - offset < 2) return fail(`downstream_ringbuffer_pageoffset ${offset} leaves a ring under 2 pages (of ${pages})`);
    // The kernel's ring primitives take a ring as one host-contiguous run
    // (kernel/vmbus/README.md): the ring pages must be consecutive frames.
    const base = this.host.frameHost(g.pfns[0]!)!;
    for (let i = 1; i < pages; i++) {
      if (this.host.frameHost(g.pfns[i]!) !== base + i * PAGE) return fail(`ring GPADL ${handle} is not contiguous (page ${i})`);
    }
    ch.state = 'open';
    ch.targetVp = targetVp;
    ch.gpadl = handle;
    const rings: ChannelRings = {
      outbound: { addr: base, size: offset * PAGE },
      inbound: { addr: base + offset * PAGE, size: (pages - offset) * PAGE },
      targetVp,
      userData: payload.slice(OpenChannel.userData, OpenChannel.userData + 120),
    };
    const mine = () => ch.state === 'open' && ch.gpadl === handle; // this opening, not a later one
    ch.device.open(
      rings,
      () => {
        if (mine()) this.host.signal(ch.targetVp, relid);
      },
      (reason) => {
        if (mine()) this.fault(ch, reason);
      },
    );
    result(0);
    return undefined;
  }

  private close(relid: number): Refusal | undefined {
    const ch = this.channels.get(relid);
    if (!ch || ch.state !== 'open') return this.refuse(Msg.CLOSECHANNEL, `CLOSECHANNEL for relid ${relid}, which is ${ch ? ch.state : 'not offered'}`);
    this.closeChannel(ch);
    return undefined;
  }

  private closeChannel(ch: Channel): void {
    if (ch.state !== 'open') return;
    ch.state = 'offered';
    ch.gpadl = undefined;
    ch.device.close();
  }

  private gpadlTeardown(dv: DataView): Refusal | undefined {
    const relid = dv.getUint32(GpadlTeardown.childRelid, true);
    const handle = dv.getUint32(GpadlTeardown.gpadl, true);
    const g = this.gpadls.get(handle);
    if (!g || g.relid !== relid) return this.refuse(Msg.GPADL_TEARDOWN, `GPADL_TEARDOWN of GPADL ${handle}, not one of relid ${relid}`);
    const ch = this.channels.get(relid);
    if (ch?.state === 'open' && ch.gpadl === handle) {
      return this.refuse(Msg.GPADL_TEARDOWN, `GPADL ${handle} holds the rings of open channel ${relid}`, relid);
    }
    this.gpadls.delete(handle);
    const { bytes, dv: r } = message(Msg.GPADL_TORNDOWN, GpadlTorndown.size);
    r.setUint32(GpadlTorndown.gpadl, handle, true);
    this.host.send(this.vp, bytes);
    return undefined;
  }

  private relidReleased(relid: number): Refusal | undefined {
    const ch = this.channels.get(relid);
    if (ch?.state !== 'rescinded') return this.refuse(Msg.RELID_RELEASED, `RELID_RELEASED for relid ${relid}, which was not rescinded`);
    this.channels.delete(relid);
    for (const [h, g] of this.gpadls) if (g.relid === relid) this.gpadls.delete(h);
    return undefined;
  }

  private unload(): undefined {
    const vp = this.vp;
    this.reset();
    this.host.send(vp, message(Msg.UNLOAD_RESPONSE, 8).bytes);
    return undefined;
  }

  /** Back to before INITIATE_CONTACT: channels closed (devices stay offered), GPADLs dropped, rescinded relids freed. */
  private reset(): void {
    for (const ch of [...this.channels.values()]) {
      this.closeChannel(ch);
      if (ch.state === 'rescinded') this.channels.delete(ch.relid);
    }
    this.gpadls.clear();
    this.state = 'disconnected';
    this.version = 0;
  }

  /** The device gave up on the guest's use of channel `ch`: closed on our side, logged. */
  private fault(ch: Channel, reason: string): void {
    this.faults.push({ relid: ch.relid, reason });
    if (this.faults.length > 1000) this.faults.shift();
    this.host.log(`vmbus: channel ${ch.relid} closed: ${reason}`);
    this.closeChannel(ch);
  }

  /**
   * Records and logs a refusal. One that names a channel closes it (its
   * device lets go of the rings) and drops the GPADL in question: a guest
   * that lies about a channel loses that channel, not the others.
   */
  private refuse(msgtype: number, reason: string, relid?: number, gpadl?: number): Refusal {
    const r = { msgtype, reason };
    this.refusals.push(r);
    if (this.refusals.length > 1000) this.refusals.shift();
    this.host.log(`vmbus: refused: ${reason}`);
    if (gpadl !== undefined && this.gpadls.get(gpadl)?.created === false) this.gpadls.delete(gpadl);
    const ch = relid === undefined ? undefined : this.channels.get(relid);
    if (ch?.state === 'open') this.closeChannel(ch);
    return r;
  }
}
