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
//   GPADL_HEADER (+ GPADL_BODY ...) ────► GPADL_CREATED (every page checked to be RAM;
//                                          overcommit: moved into one host run, pinned)
//   OPENCHANNEL(relid, gpadl, offset) ──► OPENCHANNEL_RESULT; the device gets its rings
//   CLOSECHANNEL ───────────────────────► (no reply) the device lets go of its rings
//   GPADL_TEARDOWN ─────────────────────► GPADL_TORNDOWN (its pages unpinned)
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
import { DeviceStateError } from '../emulated/device.ts';

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

/** A removed device whose rescinded relid the guest has not released (restored: the partition no longer has the device). */
const removedDevice = (classId: string, instanceId: string): VmbusDevice => ({ classId, instanceId, open() {}, notify() {}, close() {} });

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
  /** The partition is gone: let go of what outlives channels (a switch port). */
  detach?(): void;
  /** A restored open channel: the rings again, the protocol where restore() left it (not restarted as open() does). */
  resume?(rings: ChannelRings, signal: () => void, fail: (reason: string) => void): void;
  /** Persistence of the device's own state (runtime/persist/): a device without them makes a save fail. */
  readonly stateVersion?: number;
  save?(): object;
  /** Loads what save() returned; throws DeviceStateError for a state that does not fit. */
  restore?(state: object): void;
  /** Periodic work (`now`: the guest's clock in ticks), from the partition's round or the root's poll. */
  tick?(now: number): void;
  /**
   * The guest-clock tick from which tick() next has work (a periodic
   * request, an answer's deadline), or undefined for none: a host that
   * skips a guest's idle time stops there, as at the guest's own timers.
   */
  due?(): number | undefined;
  /** The partition runs again after a pause, restore or migration. */
  resumed?(): void;
}

/** What the channel manager needs of its partition. */
export interface ChannelManagerHost {
  /** Sends a channel message to the guest (the SynIC message slot of the VMBus SINT on `vp`); false if it could not. */
  send(vp: number, payload: Uint8Array): boolean;
  /** Sets the channel's event flag (relid) on `vp` and interrupts it. */
  signal(vp: number, relid: number): void;
  /** Host address of guest-physical frame `pfn`, or undefined when it is not the partition's RAM (or, with overcommit, has no frame: ballooned). */
  frameHost(pfn: bigint): number | undefined;
  /**
   * Overcommit partitions (docs/memory.md): a new GPADL's pages move into
   * one host-contiguous run and stay pinned there, never shared, ballooned
   * or swapped, until unpin. Returns why not (nothing stays pinned then).
   * Without it, RAM is one host run already.
   */
  pin?(pfns: readonly bigint[]): string | undefined;
  unpin?(pfns: readonly bigint[]): void;
  /**
   * With pin: is `pfn` a page of the partition's RAM at all? (A page
   * without a frame yet is, and gets one when pinned; pin refuses what it
   * cannot take.) Without: frameHost says it.
   */
  isRam?(pfn: bigint): boolean;
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
  /** While open: downstream_ringbuffer_pageoffset, the userdata, and the rings in host memory. */
  offset?: number;
  userData?: Uint8Array;
  rings?: ChannelRings;
}

/** A channel in listings: its device, state and (open) how full each ring is. */
export interface ChannelInfo {
  relid: number;
  classId: string;
  instanceId: string;
  state: ChannelState;
  rings?: ChannelRings;
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

/** ChannelManager.save(): JSON, numbers and strings only. */
export interface SavedChannels {
  state: ConnectionState;
  version: number;
  vp: number;
  nextRelid: number;
  channels: { relid: number; classId: string; instanceId: string; state: ChannelState; targetVp: number; gpadl: number | null; offset: number | null; userData: string | null }[];
  gpadls: { handle: number; relid: number; pfns: string[]; expected: number; byteOffset: number; byteCount: number; created: boolean }[];
}

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

  /**
   * Adds a device: offered now if the guest is connected (a hot add), else
   * at its next REQUESTOFFERS. Returns its relid: the lowest free one, so a
   * relid the guest released (RELID_RELEASED) is offered again, as Hyper-V
   * reuses them; a rescinded one is not free until then.
   */
  add(device: VmbusDevice): number {
    let relid = 1;
    while (this.channels.has(relid)) relid++;
    this.nextRelid = Math.max(this.nextRelid, relid + 1);
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

  /** A complete GPADL by handle (a device's buffers, e.g. netvsc's receive and send buffers). */
  gpadl(handle: number): { relid: number; pfns: readonly bigint[]; byteOffset: number; byteCount: number } | undefined {
    const g = this.gpadls.get(handle);
    return g?.created ? { relid: g.relid, pfns: g.pfns, byteOffset: g.byteOffset, byteCount: g.byteCount } : undefined;
  }

  /** Channels and their states (for `hv` listings and tests). */
  list(): ChannelInfo[] {
    // By relid: a released relid offered again lists where it was.
    return [...this.channels.values()].sort((a, b) => a.relid - b.relid).map((c) => ({
      relid: c.relid, classId: c.device.classId, instanceId: c.device.instanceId, state: c.state, ...(c.rings ? { rings: c.rings } : {}),
    }));
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

  // ---- persistence (runtime/persist/): the connection, channels and GPADLs; the rings are guest RAM ----

  /** The manager's state; its devices' own states are theirs to save. */
  save(): SavedChannels {
    return {
      state: this.state, version: this.version, vp: this.vp, nextRelid: this.nextRelid,
      channels: [...this.channels.values()].map((c) => ({
        relid: c.relid, classId: c.device.classId, instanceId: c.device.instanceId, state: c.state, targetVp: c.targetVp,
        gpadl: c.gpadl ?? null, offset: c.offset ?? null, userData: c.userData ? Buffer.from(c.userData).toString('base64') : null,
      })),
      gpadls: [...this.gpadls].map(([handle, g]) => ({ handle, relid: g.relid, pfns: g.pfns.map((p) => p.toString(16)), expected: g.expected, byteOffset: g.byteOffset, byteCount: g.byteCount, created: g.created })),
    };
  }

  /**
   * Checks saved state `s` against this fresh manager (its devices added
   * in the same order as the saved partition's) and returns what loads it:
   * channels keep their relids and states, and open ones get their rings
   * back through the devices' resume(). Throws DeviceStateError naming the
   * field that does not fit; nothing changes before the returned call.
   */
  checkRestore(s: SavedChannels): () => void {
    const err = (field: string, what: string) => new DeviceStateError(`vmbus.channels.${field}: ${what}`);
    const u32 = (v: unknown, field: string) => {
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xffff_ffff) throw err(field, 'is not a u32');
      return v as number;
    };
    if (s.state !== 'connected' && s.state !== 'disconnected') throw err('state', 'is not a connection state');
    if (s.state === 'connected' && !(VERSIONS as readonly number[]).includes(s.version)) throw err('version', 'is not a version we speak');
    if (u32(s.vp, 'vp') >= this.host.vcpus) throw err('vp', 'is not a vCPU');
    u32(s.nextRelid, 'nextRelid');
    if (!Array.isArray(s.gpadls) || s.gpadls.length > MAX_GPADLS) throw err('gpadls', `is not a list of at most ${MAX_GPADLS}`);
    // Overcommit: the saved GPADLs' pages are pinned again (into one host
    // run each) before their rings are looked at; a check that fails lets go of them.
    const pinned: bigint[][] = [];
    try {
      return this.checkRestoreGpadls(s, err, u32, pinned);
    } catch (e) {
      for (const pfns of pinned) this.host.unpin?.(pfns);
      throw e;
    }
  }

  private checkRestoreGpadls(
    s: SavedChannels, err: (field: string, what: string) => DeviceStateError, u32: (v: unknown, field: string) => number, pinned: bigint[][],
  ): () => void {
    const gpadls = new Map<number, Gpadl>();
    s.gpadls.forEach((g, i) => {
      const f = `gpadls[${i}]`;
      if (!Array.isArray(g?.pfns) || g.pfns.length > MAX_GPADL_PAGES) throw err(f, 'has no page list');
      const pfns = g.pfns.map((p) => {
        if (typeof p !== 'string' || !/^[0-9a-f]{1,13}$/.test(p)) throw err(`${f}.pfns`, 'holds a page that is not a frame number');
        return BigInt(`0x${p}`);
      });
      if (g.created && pfns.some((p) => !this.isRam(p))) throw err(`${f}.pfns`, "names a page that is not this partition's RAM");
      const unpinnable = g.created ? this.host.pin?.(pfns) : undefined;
      if (unpinnable !== undefined) throw err(`${f}.pfns`, unpinnable);
      if (g.created) pinned.push(pfns);
      gpadls.set(u32(g.handle, `${f}.handle`), {
        relid: u32(g.relid, `${f}.relid`), pfns, expected: u32(g.expected, `${f}.expected`), byteOffset: u32(g.byteOffset, `${f}.byteOffset`),
        byteCount: u32(g.byteCount, `${f}.byteCount`), created: g.created === true,
      });
    });
    if (!Array.isArray(s.channels)) throw err('channels', 'is not a list');
    const devices = [...this.channels.values()].map((c) => c.device);
    const channels = new Map<number, Channel>();
    const opens: Channel[] = [];
    s.channels.forEach((c, i) => {
      const f = `channels[${i}]`;
      // A rescinded channel's device was removed (the restored partition
      // lacks it): only its relid waits for the guest's RELID_RELEASED, and
      // a stand-in that serves nothing keeps its name for listings.
      const device = devices.find((d) => d.classId === c?.classId && d.instanceId === c?.instanceId)
        ?? (c?.state === 'rescinded' && typeof c.classId === 'string' && typeof c.instanceId === 'string' ? removedDevice(c.classId, c.instanceId) : undefined);
      if (!device) throw err(f, `is device ${String(c?.classId)} ${String(c?.instanceId)}, which this partition lacks`);
      if (!['offered', 'open', 'rescinded'].includes(c.state)) throw err(`${f}.state`, 'is not a channel state');
      const ch: Channel = { relid: u32(c.relid, `${f}.relid`), device, state: c.state, targetVp: u32(c.targetVp, `${f}.targetVp`) };
      if (ch.targetVp >= this.host.vcpus) throw err(`${f}.targetVp`, 'is not a vCPU');
      if (c.state === 'open') {
        const handle = u32(c.gpadl, `${f}.gpadl`);
        const g = gpadls.get(handle);
        if (!g?.created || g.relid !== ch.relid) throw err(`${f}.gpadl`, 'is not a complete GPADL of the channel');
        const userData = Buffer.from(typeof c.userData === 'string' ? c.userData : '', 'base64');
        const rings = this.ringsOf(g, handle, u32(c.offset, `${f}.offset`), ch.targetVp, new Uint8Array(userData.subarray(0, 120)));
        if (typeof rings === 'string') throw err(f, rings);
        Object.assign(ch, { gpadl: handle, offset: c.offset, userData: rings.userData, rings });
        if (!device.resume) throw err(f, `device ${device.classId} cannot resume an open channel`);
        opens.push(ch);
      }
      channels.set(ch.relid, ch);
    });
    return () => {
      for (const ch of this.channels.values()) if (ch.state === 'open') ch.device.close();
      this.channels.clear();
      for (const [k, v] of channels) this.channels.set(k, v);
      for (const h of [...this.gpadls.keys()]) this.drop(h);
      for (const [k, v] of gpadls) this.gpadls.set(k, v);
      this.state = s.state;
      this.version = s.state === 'connected' ? s.version : 0;
      this.vp = s.vp;
      this.nextRelid = Math.max(s.nextRelid, ...[...channels.keys()].map((r) => r + 1));
      for (const ch of opens) ch.device.resume!(ch.rings!, ...this.callbacks(ch, ch.gpadl!));
    };
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

  private isRam(pfn: bigint): boolean {
    return this.host.isRam ? this.host.isRam(pfn) : this.host.frameHost(pfn) !== undefined;
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
    const bad = g.pfns.findIndex((pfn) => !this.isRam(pfn));
    if (bad >= 0) {
      this.gpadls.delete(handle);
      this.created(g.relid, handle, 1);
      return this.refuse(Msg.GPADL_HEADER, `GPADL ${handle}: page ${bad} (pfn 0x${g.pfns[bad]!.toString(16)}) is not the partition's RAM`);
    }
    const unpinnable = this.host.pin?.(g.pfns);
    if (unpinnable !== undefined) {
      this.gpadls.delete(handle);
      this.created(g.relid, handle, 1);
      return this.refuse(Msg.GPADL_HEADER, `GPADL ${handle}: ${unpinnable}`);
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
    const rings = this.ringsOf(g, handle, offset, targetVp, payload.slice(OpenChannel.userData, OpenChannel.userData + 120));
    if (typeof rings === 'string') return fail(rings);
    ch.state = 'open';
    ch.targetVp = targetVp;
    ch.gpadl = handle;
    ch.offset = offset;
    ch.userData = rings.userData;
    ch.rings = rings;
    ch.device.open(rings, ...this.callbacks(ch, handle));
    result(0);
    return undefined;
  }

  /** The device's signal and fail for this opening of `ch` (not a later one). */
  private callbacks(ch: Channel, handle: number): [() => void, (reason: string) => void] {
    const mine = () => ch.state === 'open' && ch.gpadl === handle;
    return [
      () => {
        if (mine()) this.host.signal(ch.targetVp, ch.relid);
      },
      (reason) => {
        if (mine()) this.fault(ch, reason);
      },
    ];
  }

  /** The rings a GPADL holds, split at page `offset`, or what is wrong with it. */
  private ringsOf(g: Gpadl, handle: number, offset: number, targetVp: number, userData: Uint8Array): ChannelRings | string {
    const pages = g.pfns.length;
    if (g.byteOffset !== 0 || g.byteCount !== pages * PAGE) return `ring GPADL ${handle} is not whole pages`;
    if (offset < 2 || pages - offset < 2) return `downstream_ringbuffer_pageoffset ${offset} leaves a ring under 2 pages (of ${pages})`;
    // The kernel's ring primitives take a ring as one host-contiguous run
    // (kernel/vmbus/README.md): the ring pages must be consecutive frames.
    const base = this.host.frameHost(g.pfns[0]!);
    if (base === undefined) return `ring GPADL ${handle} is not RAM`;
    for (let i = 1; i < pages; i++) {
      if (this.host.frameHost(g.pfns[i]!) !== base + i * PAGE) return `ring GPADL ${handle} is not contiguous (page ${i})`;
    }
    return {
      outbound: { addr: base, size: offset * PAGE },
      inbound: { addr: base + offset * PAGE, size: (pages - offset) * PAGE },
      targetVp,
      userData,
    };
  }

  private close(relid: number): Refusal | undefined {
    const ch = this.channels.get(relid);
    // Linux closes a rescinded channel it had open (vmbus_close_internal) before it releases the relid: closed here already.
    if (ch?.state === 'rescinded') return undefined;
    if (!ch || ch.state !== 'open') return this.refuse(Msg.CLOSECHANNEL, `CLOSECHANNEL for relid ${relid}, which is ${ch ? ch.state : 'not offered'}`);
    this.closeChannel(ch);
    return undefined;
  }

  private closeChannel(ch: Channel): void {
    if (ch.state !== 'open') return;
    ch.state = 'offered';
    ch.gpadl = ch.offset = ch.userData = ch.rings = undefined;
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
    this.drop(handle);
    const { bytes, dv: r } = message(Msg.GPADL_TORNDOWN, GpadlTorndown.size);
    r.setUint32(GpadlTorndown.gpadl, handle, true);
    this.host.send(this.vp, bytes);
    return undefined;
  }

  private relidReleased(relid: number): Refusal | undefined {
    const ch = this.channels.get(relid);
    if (ch?.state !== 'rescinded') return this.refuse(Msg.RELID_RELEASED, `RELID_RELEASED for relid ${relid}, which was not rescinded`);
    this.channels.delete(relid);
    for (const [h, g] of this.gpadls) if (g.relid === relid) this.drop(h);
    return undefined;
  }

  /** GPADL `handle` goes; its pages are the partition's again (unpinned). */
  private drop(handle: number): void {
    const g = this.gpadls.get(handle);
    if (!g) return;
    this.gpadls.delete(handle);
    if (g.created) this.host.unpin?.(g.pfns);
  }

  private unload(): undefined {
    const vp = this.vp;
    this.reset();
    this.host.send(vp, message(Msg.UNLOAD_RESPONSE, 8).bytes);
    return undefined;
  }

  /** Back to before INITIATE_CONTACT: channels closed (devices stay offered), GPADLs dropped, rescinded relids freed. */
  /** The partition's VMBus goes (a reboot, its end): channels closed, GPADLs dropped (their pages unpinned). */
  release(): void {
    this.reset();
  }

  private reset(): void {
    for (const ch of [...this.channels.values()]) {
      this.closeChannel(ch);
      if (ch.state === 'rescinded') this.channels.delete(ch.relid);
    }
    for (const h of [...this.gpadls.keys()]) this.drop(h);
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
