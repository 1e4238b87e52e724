// Integration components (ICs): the small Hyper-V services every guest gets
// on VMBus (heartbeat, shutdown, timesync, KVP), the host side of what
// Linux's drivers/hv/hv_util.c and hv_kvp.c answer. Unlike storage, the
// host asks and the guest answers: each request is an inband packet
//
//   +0  struct vmbuspipe_hdr  flags u32, msgsize u32 (bytes from +8 on)
//   +8  struct icmsg_hdr      icverframe {major u16, minor u16}, icmsgtype u16,
//                             icvermsg {major, minor}, icmsgsize u16, status u32,
//                             ictransaction_id u8, icflags u8, reserved[2]
//   +28 the message (icmsg_negotiate, heartbeat_msg_data, ...)
//
// and the guest sends the same buffer back, changed in place, with
// icflags = TRANSACTION | RESPONSE and the request's trans_id in the packet
// descriptor. One request at a time per channel (Hyper-V's rule: Linux's
// KVP keeps a single transaction). The first request on every opening is
// ICMSGTYPE_NEGOTIATE: the framework versions (3.0, 1.0) and the service's,
// newest first; the guest's vmbus_prep_negotiate_resp picks one of each
// (icframe_vercnt = icmsg_vercnt = 1) or none (both 0): the IC is then
// 'unsupported' and sends nothing more.
//
// A response that is not inband, too short, not flagged RESPONSE, or for no
// request is the guest breaking the protocol: the channel closes (logged).
import { ChannelEndpoint, EndpointFault, type Packet } from './endpoint.ts';
import { PacketType } from './ring.ts';
import { DeviceStateError } from '../emulated/device.ts';

export const IcMsgType = { NEGOTIATE: 0, HEARTBEAT: 1, KVPEXCHANGE: 2, SHUTDOWN: 3, TIMESYNC: 4 } as const;
export const IcFlag = { TRANSACTION: 1, REQUEST: 2, RESPONSE: 4 } as const;
/** sizeof(struct vmbuspipe_hdr) + sizeof(struct icmsg_hdr) (ICMSG_HDR). */
export const IC_HDR = 28;
export const Icmsg = {
  pipeFlags: 0, pipeMsgSize: 4, frameMajor: 8, frameMinor: 10, type: 12, msgMajor: 14, msgMinor: 16, size: 18, status: 20,
  transaction: 24, flags: 25,
} as const;
/** struct icmsg_negotiate after the headers: icframe_vercnt u16, icmsg_vercnt u16, reserved u32, icversion_data[]. */
export const Negotiate = { frameCount: 0, msgCount: 2, versions: 8 } as const;
/** HRESULTs (include/uapi/linux/hyperv.h). HV_S_CONT: no more items (KVP enumerate past the end, a key not found). */
export const HV_S_OK = 0;
export const HV_E_FAIL = 0x8000_4005;
export const HV_S_CONT = 0x8007_0103;
/** UTIL_FW_VERSION 3.0 and UTIL_WS2K8_FW_VERSION 1.0, as Linux's fw_versions[]. */
export const IC_FRAMEWORK_VERSIONS = [0x3_0000, 0x1_0000] as const;
/** A request the guest has not answered after this many ticks of its clock (5 s) fails for whoever asked. */
export const IC_TIMEOUT_TICKS = 50_000_000;

export type IcState = 'closed' | 'negotiating' | 'ready' | 'unsupported';

/** How a request ended: the guest's status and its message (the bytes after the headers), or why not. */
export type IcOutcome = { ok: true; status: number; body: Uint8Array } | { ok: false; error: string };

interface Request {
  type: number;
  body: Uint8Array;
  done?: (o: IcOutcome) => void;
}

interface Inflight extends Request {
  transId: bigint;
  sentAt: number;
  timedOut: boolean;
}

export const versionString = (v: number): string => `${v >>> 16}.${v & 0xffff}`;

export abstract class IntegrationComponent extends ChannelEndpoint {
  /** Its name in listings: 'heartbeat', 'shutdown', 'timesync', 'kvp'. */
  abstract readonly service: string;
  /** Service versions the host speaks, newest first. */
  protected abstract readonly serviceVersions: readonly number[];
  /** Longest message body this IC sends: a guest's answer is read only when a request of that size fits behind it. */
  protected abstract readonly maxBody: number;
  protected get maxReply(): number {
    const negotiate = Negotiate.versions + 4 * (IC_FRAMEWORK_VERSIONS.length + this.serviceVersions.length);
    return IC_HDR + Math.max(this.maxBody, negotiate);
  }

  state: IcState = 'closed';
  /** Negotiated framework and service versions (major << 16 | minor), 0 before. */
  framework = 0;
  version = 0;
  private queue: Request[] = [];
  private inflight: Inflight | undefined;
  private nextTrans = 1n;

  /** The negotiation succeeded: the service's first requests. */
  protected onReady(): void {}
  /** Periodic work of a ready IC (`now`: the guest's clock in ticks). */
  protected onTick(_now: number): void {}

  protected override onOpen(): void {
    this.state = 'negotiating';
    this.framework = this.version = 0;
    this.failAll('the channel was reopened');
    const n = IC_FRAMEWORK_VERSIONS.length + this.serviceVersions.length;
    const body = new Uint8Array(Negotiate.versions + 4 * n);
    const dv = new DataView(body.buffer);
    dv.setUint16(Negotiate.frameCount, IC_FRAMEWORK_VERSIONS.length, true);
    dv.setUint16(Negotiate.msgCount, this.serviceVersions.length, true);
    [...IC_FRAMEWORK_VERSIONS, ...this.serviceVersions].forEach((v, i) => {
      dv.setUint16(Negotiate.versions + 4 * i, v >>> 16, true);
      dv.setUint16(Negotiate.versions + 4 * i + 2, v & 0xffff, true);
    });
    this.queue.unshift({ type: IcMsgType.NEGOTIATE, body });
    this.pump();
  }

  override close(): void {
    super.close();
    if (this.state !== 'unsupported') this.state = 'closed';
    this.failAll('the channel closed');
  }

  /** Queues a request (sent once the IC is ready and the one before it answered). */
  protected request(type: number, body: Uint8Array, done?: (o: IcOutcome) => void): void {
    if (this.state === 'unsupported') {
      done?.({ ok: false, error: `the guest speaks no ${this.service} version the host does` });
      return;
    }
    this.queue.push({ type, body, done });
    this.pump();
  }

  /** Requests queued or waiting for their answer. */
  get pending(): number {
    return this.queue.length + (this.inflight && !this.inflight.timedOut ? 1 : 0);
  }

  /** The partition's round or poll: periodic requests, and answers that never came. */
  tick(now: number): void {
    const f = this.inflight;
    if (f && !f.timedOut && now - f.sentAt > IC_TIMEOUT_TICKS) {
      f.timedOut = true;
      f.done?.({ ok: false, error: `the guest did not answer the ${this.service} request` });
    }
    if (this.state === 'ready' && this.isOpen) this.onTick(now);
  }

  /** VmbusDevice.due: the request in flight's deadline, or the service's next periodic request (onDue), whichever is first. */
  due(): number | undefined {
    const f = this.inflight;
    const timeout = f && !f.timedOut ? f.sentAt + IC_TIMEOUT_TICKS + 1 : Infinity;
    const periodic = this.state === 'ready' && this.isOpen ? (this.onDue() ?? Infinity) : Infinity;
    const t = Math.min(timeout, periodic);
    return t === Infinity ? undefined : t;
  }

  /** When a ready IC's onTick next has work (the guest clock in ticks), if ever. */
  protected onDue(): number | undefined {
    return undefined;
  }

  private failAll(error: string): void {
    const all = [...(this.inflight && !this.inflight.timedOut ? [this.inflight] : []), ...this.queue];
    this.inflight = undefined;
    this.queue = [];
    for (const r of all) r.done?.({ ok: false, error: `${this.service}: ${error}` });
  }

  private pump(): void {
    if (!this.isOpen || this.inflight || !this.queue.length) return;
    if (this.state !== 'negotiating' && this.state !== 'ready') return;
    const r = this.queue.shift()!;
    const pkt = new Uint8Array(IC_HDR + r.body.length);
    const dv = new DataView(pkt.buffer);
    dv.setUint32(Icmsg.pipeFlags, 0, true);
    dv.setUint32(Icmsg.pipeMsgSize, pkt.length - 8, true);
    const frame = r.type === IcMsgType.NEGOTIATE ? IC_FRAMEWORK_VERSIONS[0] : this.framework;
    const msg = r.type === IcMsgType.NEGOTIATE ? this.serviceVersions[0]! : this.version;
    dv.setUint16(Icmsg.frameMajor, frame >>> 16, true);
    dv.setUint16(Icmsg.frameMinor, frame & 0xffff, true);
    dv.setUint16(Icmsg.type, r.type, true);
    dv.setUint16(Icmsg.msgMajor, msg >>> 16, true);
    dv.setUint16(Icmsg.msgMinor, msg & 0xffff, true);
    dv.setUint16(Icmsg.size, r.body.length, true);
    const transId = this.nextTrans++;
    pkt[Icmsg.transaction] = Number(transId & 0xffn);
    pkt[Icmsg.flags] = IcFlag.TRANSACTION | IcFlag.REQUEST;
    pkt.set(r.body, IC_HDR);
    this.inflight = { ...r, transId, sentAt: this.ctx?.now() ?? 0, timedOut: false };
    try {
      this.send(PacketType.DATA_INBAND, transId, pkt);
    } catch (e) {
      if (!(e instanceof EndpointFault)) throw e;
      this.stop(e.message); // the guest's ring is corrupt or full behind one request: closes and fails the request
    }
  }

  protected onPacket(p: Packet): void {
    const who = `${this.service} IC`;
    if (p.type !== PacketType.DATA_INBAND) throw new EndpointFault(`${who}: packet type ${p.type} (it takes inband answers)`);
    const pkt = p.raw.subarray(p.offset);
    if (pkt.length < IC_HDR) throw new EndpointFault(`${who}: answer of ${pkt.length} bytes (the headers are ${IC_HDR})`);
    const dv = new DataView(pkt.buffer, pkt.byteOffset, pkt.length);
    if (!(pkt[Icmsg.flags]! & IcFlag.RESPONSE)) throw new EndpointFault(`${who}: a packet not flagged as a response (icflags ${pkt[Icmsg.flags]})`);
    const f = this.inflight;
    if (!f || f.transId !== p.transId) throw new EndpointFault(`${who}: an answer to transaction ${p.transId}, which is not the one asked`);
    this.inflight = undefined;
    const body = pkt.slice(IC_HDR);
    if (f.type === IcMsgType.NEGOTIATE) this.negotiated(new DataView(body.buffer), body.length);
    else if (!f.timedOut) f.done?.({ ok: true, status: dv.getUint32(Icmsg.status, true), body });
    this.pump();
  }

  /** The guest's icmsg_negotiate: one framework and one service version we offered, or none. */
  private negotiated(dv: DataView, len: number): void {
    const who = `${this.service} IC`;
    if (len < Negotiate.versions) throw new EndpointFault(`${who}: negotiate answer of ${len} bytes`);
    const frames = dv.getUint16(Negotiate.frameCount, true);
    const msgs = dv.getUint16(Negotiate.msgCount, true);
    if (frames === 0 && msgs === 0) {
      this.state = 'unsupported';
      this.ctx?.log(`vmbus: ${who}: the guest speaks none of our versions`);
      this.failAll('unsupported by the guest');
      return;
    }
    if (frames !== 1 || msgs !== 1 || len < Negotiate.versions + 8) throw new EndpointFault(`${who}: negotiate answer with ${frames} framework and ${msgs} service versions`);
    const at = (i: number) => (dv.getUint16(Negotiate.versions + 4 * i, true) << 16) | dv.getUint16(Negotiate.versions + 4 * i + 2, true);
    const frame = at(0) >>> 0;
    const version = at(1) >>> 0;
    if (!(IC_FRAMEWORK_VERSIONS as readonly number[]).includes(frame) || !this.serviceVersions.includes(version)) {
      throw new EndpointFault(`${who}: the guest chose versions ${versionString(frame)}/${versionString(version)}, which were not offered`);
    }
    this.framework = frame;
    this.version = version;
    this.state = 'ready';
    this.onReady();
  }

  // ---- persistence: the protocol where it was (the rings are in guest RAM, the channel manager reopens them) ----

  protected saveIc(): Record<string, unknown> {
    const req = (r: Request) => ({ type: r.type, body: Buffer.from(r.body).toString('base64') });
    return {
      state: this.state, framework: this.framework, version: this.version, nextTrans: this.nextTrans.toString(),
      inflight: this.inflight ? { ...req(this.inflight), transId: this.inflight.transId.toString(), sentAt: this.inflight.sentAt, timedOut: this.inflight.timedOut } : null,
      queue: this.queue.map(req),
    };
  }

  /** Checks `s` (DeviceStateError naming the field) and returns what loads it. */
  protected checkIc(s: Record<string, unknown>): () => void {
    const err = (field: string, what: string) => new DeviceStateError(`vmbus.${this.service}.${field}: ${what}`);
    const states: IcState[] = ['closed', 'negotiating', 'ready', 'unsupported'];
    if (!states.includes(s.state as IcState)) throw err('state', 'is not an IC state');
    const ver = (k: string) => {
      const v = s[k];
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xffff_ffff) throw err(k, 'is not a version');
      return v as number;
    };
    const framework = ver('framework');
    const version = ver('version');
    const big = (v: unknown, k: string) => {
      if (typeof v !== 'string' || !/^\d{1,20}$/.test(v)) throw err(k, 'is not a transaction id');
      return BigInt(v);
    };
    const nextTrans = big(s.nextTrans, 'nextTrans');
    const req = (o: unknown, k: string): Request => {
      const r = o as Record<string, unknown> | null;
      if (!r || typeof r !== 'object' || !Number.isInteger(r.type) || typeof r.body !== 'string') throw err(k, 'is not a request');
      const body = Buffer.from(r.body, 'base64');
      if (body.length > this.maxBody) throw err(k, `is a request of ${body.length} bytes`);
      return { type: r.type as number, body: new Uint8Array(body) };
    };
    if (!Array.isArray(s.queue) || s.queue.length > 64) throw err('queue', 'is not a list of requests');
    const queue = s.queue.map((q, i) => req(q, `queue[${i}]`));
    let inflight: Inflight | undefined;
    if (s.inflight !== null) {
      const f = s.inflight as Record<string, unknown>;
      inflight = { ...req(f, 'inflight'), transId: big(f?.transId, 'inflight.transId'), sentAt: Number(f.sentAt) || 0, timedOut: f.timedOut === true };
    }
    return () => {
      Object.assign(this, { state: s.state, framework, version, nextTrans, inflight, queue });
    };
  }
}

/** A string as the KVP and shutdown messages carry it: UTF-16LE, NUL-terminated, in `size` bytes at most. */
export function utf16(s: string, size: number): { bytes: Uint8Array; length: number } {
  const bytes = new Uint8Array(size);
  const n = Math.min(s.length, size / 2 - 1);
  for (let i = 0; i < n; i++) {
    bytes[2 * i] = s.charCodeAt(i) & 0xff;
    bytes[2 * i + 1] = s.charCodeAt(i) >> 8;
  }
  return { bytes, length: 2 * (n + 1) };
}

/** A UTF-16LE string of at most `size` bytes, to its first NUL. */
export function fromUtf16(b: Uint8Array, size: number): string {
  let s = '';
  for (let i = 0; i + 1 < Math.min(size, b.length); i += 2) {
    const c = b[i]! | (b[i + 1]! << 8);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}
