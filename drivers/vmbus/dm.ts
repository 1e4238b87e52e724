// Hyper-V Dynamic Memory (the "dm" VSP): the host end of the balloon an
// enlightened guest runs on VMBus, as Linux's drivers/hv/hv_balloon.c is
// its client. Every message is an inband packet starting with
//
//   struct dm_header  type u16, size u16 (bytes of the whole message), trans_id u32
//
// The guest opens the channel and speaks first:
//
//   guest                                  host (this file)
//   DM_VERSION_REQUEST {version, last} ──► DM_VERSION_RESPONSE {is_accepted}
//     (WIN10 2.0, then WIN8 1.0, then WIN7 0.3; we take 2.0 and 1.0)
//   DM_CAPABILITIES_REPORT {caps}      ──► DM_CAPABILITIES_RESPONSE {is_accepted}
//   DM_STATUS_REPORT (every second)        kept: num_avail, num_committed, ...
//                                      ◄── DM_BALLOON_REQUEST {num_pages}
//   DM_BALLOON_RESPONSE {more_pages,   ──► each page leaves the partition (BALLOONED,
//     ranges[]} ... until more_pages 0     its frame back to the pool)
//                                      ◄── DM_UNBALLOON_REQUEST {ranges[]}
//   DM_UNBALLOON_RESPONSE              ──► the guest uses the pages again
//
// A page range (union dm_mem_page_range) is a u64: start_page in bits 0-39,
// page_cnt in bits 40-63. The host keeps the ranges the guest gave, and
// gives back from the last given. One request is in flight at a time; each
// unballoon request is one packet (more_pages 0), the next goes after its
// response. Memory hot-add (DM_MEM_HOT_ADD_REQUEST) is not offered: the
// host never asks for it, and a guest's hot-add response is a protocol error.
//
// Ballooned pages follow the partition's overcommit (runtime/machine/
// overcommit.ts): a page the guest gives is taken out of its RAM at once;
// one given back needs nothing from the host (the guest's first write gets
// it a fresh frame, reads see zeros), as virtio-balloon without
// MUST_TELL_HOST.
//
// Anything malformed (a short or oversized message, a size field that does
// not fit the packet, a response nobody asked for, a range outside RAM or a
// page the partition cannot give) closes the channel with the reason logged
// (EndpointFault); what the guest gave until then stays given.
import { ChannelEndpoint, EndpointFault, type Packet } from './endpoint.ts';
import { PacketType } from './ring.ts';
import { DeviceStateError } from '../emulated/device.ts';

/** HV_DM_GUID (include/linux/hyperv.h). */
export const DM_CLASS_ID = '525074dc-8985-46e2-8057-a307dc18a502';
export const DM_INSTANCE_ID = '4487b255-b88c-403f-bb51-d1f69cf17f87';

export const DmMsg = {
  ERROR: 0, VERSION_REQUEST: 1, VERSION_RESPONSE: 2, CAPABILITIES_REPORT: 3, CAPABILITIES_RESPONSE: 4, STATUS_REPORT: 5,
  BALLOON_REQUEST: 6, BALLOON_RESPONSE: 7, UNBALLOON_REQUEST: 8, UNBALLOON_RESPONSE: 9, HOT_ADD_REQUEST: 10, HOT_ADD_RESPONSE: 11,
  INFO_MESSAGE: 12,
} as const;
/** DYNMEM_PROTOCOL_VERSION_WIN7/WIN8/WIN10 (major << 16 | minor). */
export const DmVersion = { WIN7: 0x0_0003, WIN8: 0x1_0000, WIN10: 0x2_0000 } as const;
/** What we accept (WIN7 lacks what Linux needs of WIN8's status reports; Linux tries WIN10 first). */
const ACCEPTED: readonly number[] = [DmVersion.WIN10, DmVersion.WIN8];
export const DM_HDR = 8;
/** Fixed sizes of the messages (hv_balloon.c's structs). */
export const DmSize = { VERSION_REQUEST: 16, CAPABILITIES: 32, STATUS: 48, BALLOON_RESPONSE: 16, UNBALLOON_REQUEST: 16, RESPONSE: 16, BALLOON: 16 } as const;
/** Ranges per DM_UNBALLOON_REQUEST we send. */
export const MAX_UNBALLOON_RANGES = 256;
/** Largest page_cnt of one range (24 bits). */
const MAX_RANGE_PAGES = (1 << 24) - 1;
const PAGE = 4096;

export type DmState = 'closed' | 'negotiating' | 'ready';

/** The guest's last DM_STATUS_REPORT, in pages (HV_HYP_PAGE_SIZE, 4 KiB), and when it came (guest ticks). */
export interface DmStatus {
  numAvail: number;
  numCommitted: number;
  pageFileSize: number;
  zeroFree: number;
  pageFileWrites: number;
  ioDiff: number;
  at: number;
}

/** What the device needs of the partition's overcommit (runtime/machine/overcommit.ts). */
export interface DmBalloonHost {
  /** Guest RAM: guest-physical base and pages. */
  ramBase: number;
  ramPages: number;
  /** Guest page `gpa` leaves RAM (its frame back to the pool at the next reclaim); false if it cannot (not RAM, ballooned already, pinned). */
  inflate(gpa: number): boolean;
  /** Frees the frames ballooned pages left, after a grace period. */
  reclaim(): void;
}

interface Range {
  start: number;
  count: number;
}

type Inflight = { kind: 'balloon'; asked: number; got: number } | { kind: 'unballoon'; pages: number };

export class DynamicMemoryDevice extends ChannelEndpoint {
  readonly classId = DM_CLASS_ID;
  readonly stateVersion = 1;
  protected readonly maxReply = DmSize.UNBALLOON_REQUEST + 8 * MAX_UNBALLOON_RANGES;
  state: DmState = 'closed';
  /** Negotiated protocol version (0 before). */
  version = 0;
  /** The guest's capabilities report: it can balloon, it asked for hot-add (never used). */
  caps = { balloon: false, hotAdd: false };
  /** The guest's last status report. */
  status: DmStatus | undefined;
  /** Pages the guest holds in its balloon now. */
  ballooned = 0;
  /** Pages the host wants in the balloon. */
  target = 0;
  /** The guest gave fewer pages than asked (its floor): no new request until the target changes. */
  private short = false;
  private ranges: Range[] = [];
  private inflight: Inflight | undefined;
  private transId = 0;
  private host: DmBalloonHost | undefined;

  constructor(readonly instanceId = DM_INSTANCE_ID) {
    super();
  }

  /** The partition's overcommit: where given pages go. Before the guest opens the channel. */
  bind(host: DmBalloonHost): void {
    this.host = host;
  }

  /** Asks the guest to hold `pages` in its balloon (0: none); it inflates or deflates toward it. */
  setTarget(pages: number): void {
    this.target = pages;
    this.short = false;
    this.guarded(() => this.adjust());
  }

  /** The request in flight: 'balloon', 'unballoon', or undefined. */
  get request(): Inflight['kind'] | undefined {
    return this.inflight?.kind;
  }

  protected override onOpen(): void {
    // A guest (re)opening the channel starts from nothing: pages an earlier
    // instance gave stay out of RAM until it touches them, and are its own.
    Object.assign(this, { state: 'negotiating', version: 0, caps: { balloon: false, hotAdd: false }, status: undefined, ballooned: 0 });
    this.ranges = [];
    this.inflight = undefined;
    this.short = false;
  }

  protected onPacket(p: Packet): void {
    if (p.type !== PacketType.DATA_INBAND) throw new EndpointFault(`dm: packet type ${p.type} (it takes inband messages)`);
    const msg = p.raw.subarray(p.offset);
    if (msg.length < DM_HDR) throw new EndpointFault(`dm: a message of ${msg.length} bytes (its header is ${DM_HDR})`);
    const dv = new DataView(msg.buffer, msg.byteOffset, msg.length);
    const type = dv.getUint16(0, true);
    const size = dv.getUint16(2, true);
    if (size < DM_HDR || size > msg.length) throw new EndpointFault(`dm: message ${type} says ${size} bytes, the packet holds ${msg.length}`);
    const need = (bytes: number) => {
      if (size < bytes) throw new EndpointFault(`dm: message ${type} of ${size} bytes (at least ${bytes})`);
    };
    const ready = () => {
      if (this.state !== 'ready') throw new EndpointFault(`dm: message ${type} before the version and capabilities were agreed`);
    };
    switch (type) {
      case DmMsg.VERSION_REQUEST: {
        need(DmSize.VERSION_REQUEST);
        if (this.state === 'ready') throw new EndpointFault('dm: DM_VERSION_REQUEST after the capabilities were agreed');
        const version = dv.getUint32(8, true);
        const ok = ACCEPTED.includes(version);
        if (ok) this.version = version;
        this.reply(DmMsg.VERSION_RESPONSE, dv.getUint32(4, true), ok ? 1 : 0);
        return;
      }
      case DmMsg.CAPABILITIES_REPORT: {
        need(DmSize.CAPABILITIES);
        if (this.state !== 'negotiating' || !this.version) throw new EndpointFault('dm: DM_CAPABILITIES_REPORT before a version was agreed');
        const caps = dv.getUint32(8, true);
        this.caps = { balloon: (caps & 1) !== 0, hotAdd: (caps & 2) !== 0 };
        this.reply(DmMsg.CAPABILITIES_RESPONSE, dv.getUint32(4, true), 1);
        this.state = 'ready';
        this.adjust();
        return;
      }
      case DmMsg.STATUS_REPORT: {
        need(DmSize.STATUS);
        ready();
        const u64 = (at: number) => Number(dv.getBigUint64(at, true));
        this.status = {
          numAvail: u64(8), numCommitted: u64(16), pageFileSize: u64(24), zeroFree: u64(32), pageFileWrites: dv.getUint32(40, true),
          ioDiff: dv.getUint32(44, true), at: this.ctx?.now() ?? 0,
        };
        return;
      }
      case DmMsg.BALLOON_RESPONSE:
        need(DmSize.BALLOON_RESPONSE);
        ready();
        this.balloonResponse(dv, size);
        return;
      case DmMsg.UNBALLOON_RESPONSE: {
        ready();
        if (this.inflight?.kind !== 'unballoon') throw new EndpointFault('dm: DM_UNBALLOON_RESPONSE with no unballoon request');
        this.inflight = undefined;
        this.adjust();
        return;
      }
      default:
        throw new EndpointFault(`dm: unexpected message type ${type}`);
    }
  }

  /** The pages of one DM_BALLOON_RESPONSE leave the partition. */
  private balloonResponse(dv: DataView, size: number): void {
    const f = this.inflight;
    if (f?.kind !== 'balloon') throw new EndpointFault('dm: DM_BALLOON_RESPONSE with no balloon request');
    const word = dv.getUint32(12, true);
    const more = (word & 1) !== 0;
    const count = word >>> 1;
    if (DmSize.BALLOON_RESPONSE + 8 * count > size) throw new EndpointFault(`dm: DM_BALLOON_RESPONSE of ${size} bytes claims ${count} ranges`);
    const host = this.host;
    if (!host) throw new EndpointFault('dm: pages given to a partition that cannot balloon (no overcommit bound)');
    const first = host.ramBase / PAGE;
    for (let i = 0; i < count; i++) {
      const r = dv.getBigUint64(DmSize.BALLOON_RESPONSE + 8 * i, true);
      const start = Number(r & 0xff_ffff_ffffn);
      const pages = Number(r >> 40n);
      if (start < first || start + pages > first + host.ramPages) {
        throw new EndpointFault(`dm: ballooned range 0x${start.toString(16)}+${pages} is not the partition's RAM`);
      }
      if (f.got + pages > f.asked) throw new EndpointFault(`dm: the guest gave more than the ${f.asked} pages asked`);
      for (let n = 0; n < pages; n++) {
        if (!host.inflate((start + n) * PAGE)) {
          // The pages before it in the range are out: keep them counted.
          this.given(start, n);
          throw new EndpointFault(`dm: page 0x${(start + n).toString(16)} cannot be ballooned (ballooned already, or held by the host)`);
        }
      }
      this.given(start, pages);
      f.got += pages;
    }
    host.reclaim();
    if (more) return;
    this.inflight = undefined;
    if (f.got < f.asked) this.short = true; // its floor: ask again only for a new target
    this.adjust();
  }

  private given(start: number, pages: number): void {
    if (!pages) return;
    this.ranges.push({ start, count: pages });
    this.ballooned += pages;
  }

  /** Sends the next request toward the target, unless one is in flight. */
  private adjust(): void {
    if (this.state !== 'ready' || this.inflight || !this.isOpen) return;
    const want = this.target - this.ballooned;
    if (want > 0 && this.caps.balloon && !this.short) {
      const pages = Math.min(want, 0xffff_ffff);
      this.inflight = { kind: 'balloon', asked: pages, got: 0 };
      const { bytes, dv } = this.message(DmMsg.BALLOON_REQUEST, DmSize.BALLOON);
      dv.setUint32(8, pages, true);
      this.send(PacketType.DATA_INBAND, 0n, bytes);
    } else if (want < 0 && this.ballooned > 0) {
      let left = Math.min(-want, this.ballooned);
      const back: Range[] = [];
      while (left > 0 && back.length < MAX_UNBALLOON_RANGES) {
        const last = this.ranges[this.ranges.length - 1]!;
        const n = Math.min(left, last.count, MAX_RANGE_PAGES);
        back.push({ start: last.start + last.count - n, count: n });
        last.count -= n;
        if (!last.count) this.ranges.pop();
        left -= n;
      }
      const pages = back.reduce((s, r) => s + r.count, 0);
      this.ballooned -= pages;
      this.inflight = { kind: 'unballoon', pages };
      const { bytes, dv } = this.message(DmMsg.UNBALLOON_REQUEST, DmSize.UNBALLOON_REQUEST + 8 * back.length);
      dv.setUint32(8, 0, true); // more_pages 0: each request stands alone
      dv.setUint32(12, back.length, true);
      back.forEach((r, i) => dv.setBigUint64(16 + 8 * i, BigInt(r.start) | (BigInt(r.count) << 40n), true));
      this.send(PacketType.DATA_INBAND, 0n, bytes);
    }
  }

  private message(type: number, size: number): { bytes: Uint8Array; dv: DataView } {
    const bytes = new Uint8Array(size);
    const dv = new DataView(bytes.buffer);
    dv.setUint16(0, type, true);
    dv.setUint16(2, size, true);
    dv.setUint32(4, ++this.transId, true);
    return { bytes, dv };
  }

  /** A response (version, capabilities): the guest's trans_id, is_accepted. */
  private reply(type: number, transId: number, accepted: number): void {
    const { bytes, dv } = this.message(type, DmSize.RESPONSE);
    dv.setUint32(4, transId, true);
    dv.setUint32(8, accepted, true);
    this.send(PacketType.DATA_INBAND, 0n, bytes);
  }

  save(): object {
    return {
      state: this.state, version: this.version, caps: this.caps, status: this.status ?? null, target: this.target, short: this.short,
      ranges: this.ranges.map((r) => [r.start, r.count]), inflight: this.inflight ?? null, transId: this.transId,
    };
  }

  restore(state: object): void {
    const s = state as Record<string, unknown>;
    const err = (what: string) => new DeviceStateError(`dm: ${what}`);
    if (!['closed', 'negotiating', 'ready'].includes(s.state as string)) throw err('state is not a DM state');
    const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
    if (!Array.isArray(s.ranges) || !s.ranges.every((r) => Array.isArray(r) && count(r[0]) && count(r[1]))) throw err('ranges is not a list of [start, count]');
    if (!count(s.target) || !count(s.version) || !count(s.transId)) throw err('target, version or transId is not a count');
    const f = s.inflight as Inflight | null;
    if (f !== null && !(f?.kind === 'balloon' && count(f.asked) && count(f.got)) && !(f?.kind === 'unballoon' && count(f.pages))) throw err('inflight is not a request');
    this.state = s.state as DmState;
    this.version = s.version as number;
    const caps = s.caps as { balloon?: unknown; hotAdd?: unknown } | undefined;
    this.caps = { balloon: caps?.balloon === true, hotAdd: caps?.hotAdd === true };
    this.status = (s.status as DmStatus | null) ?? undefined;
    this.target = s.target as number;
    this.short = s.short === true;
    this.ranges = (s.ranges as [number, number][]).map(([start, c]) => ({ start, count: c }));
    this.ballooned = this.ranges.reduce((n, r) => n + r.count, 0);
    this.inflight = f ?? undefined;
    this.transId = s.transId as number;
  }
}
