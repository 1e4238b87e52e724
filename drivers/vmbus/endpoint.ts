// The host end of one VMBus channel: what every synthetic device (storage,
// later network and the integration components) does with its two rings.
// It reads the guest's packets straight out of the guest -> host ring in
// guest RAM and writes its answers into the host -> guest ring, through the
// kernel's ring primitives (kernel/vmbus/ring.ts), so both ends keep Linux's
// rules (hv_ringbuffer_write/read, hv_pkt_iter_close):
//
//   notify() ─► mask the ring (hv_begin_read), then per batch:
//               room for k answers in the host -> guest ring? none: publish
//               pending_send_sz and stop (the guest's read signals us on
//               not-enough -> enough, and notify() runs again);
//               read up to k whole packets (descriptors included) into
//               scratch with one read-index commit and at most one signal
//               (ringReadBatch, as Linux's readers commit once after a
//               foreach_vmbus_pkt loop), give each to the device, whose
//               answers go out with send();
//               unmask (hv_end_read) and read on if more came meanwhile.
//   send()   ─► ringWrite; the guest is signalled only on empty -> non-empty.
//
// Runs on the thread that services the partition's exits (the root's
// worker, or the deterministic host's only thread), or, lent by it, on an
// endpoint thread of its own (`offload`: the threaded host's endpoint
// worker, runtime/host/endpoint-worker.ts) that waits on the channel's
// signals and serves the rings from shared memory; the root keeps the
// channel manager and takes the channel back (recall, synchronous) before
// it closes it, saves the device or touches its disk (docs/vmbus.md). The
// kernel primitives copy to and from host addresses, so each endpoint has a
// few pages of scratch in the shared memory (VmbusDeviceContext.scratch).
//
// Nothing the guest writes makes this throw: a corrupt ring, a packet larger
// than the device takes, or a packet the device rejects (EndpointFault)
// closes the channel with the reason logged; the guest's other channels go on.
import type { GuestMemory } from '../emulated/dma.ts';
import type { ChannelRings, VmbusDevice } from './channel-manager.ts';
import { COMPLETION_REQUESTED, PacketType, RingResult, VmbusRing, packetFootprint, type RingKernel } from './ring.ts';

/** What a device needs of its partition to service a channel (VmbusHost gives it). */
export interface VmbusDeviceContext {
  memory: WebAssembly.Memory;
  ring: RingKernel;
  /** Guest RAM, checked: data buffers the guest names (GPA-direct pages) are reached only through it. */
  guest: GuestMemory;
  /** `pages` zeroed 4 KiB pages of shared memory for this device (host address), or 0 when the pool is out. */
  scratch(pages: number): number;
  /** A complete GPADL of this partition by handle: its frames and the bytes they hold (netvsc's buffers), or undefined. */
  gpadl(handle: number): { relid: number; pfns: readonly bigint[]; byteOffset: number; byteCount: number } | undefined;
  /** Gives scratch pages back (the partition is destroyed). */
  freeScratch(addr: number, pages: number): void;
  /** The guest's clock (its `time` CSR), in ticks of 100 ns: what the integration components time themselves by. */
  now(): number;
  log(line: string): void;
}

/** A packet from the guest -> host ring. */
export interface Packet {
  type: number;
  flags: number;
  transId: bigint;
  /** The whole packet from its descriptor on (vmbus_recvpacket_raw): a view valid until the next packet. */
  raw: Uint8Array;
  /** Where the payload starts in `raw` (offset8 * 8). */
  offset: number;
}

/** What a device's server thread gives back with the channel (ChannelEndpoint.served()). */
export interface ServedState {
  /** The device's save() as the server left it; absent for a device without one. */
  state?: object;
  stats: ChannelEndpoint['stats'];
  fault?: string;
}

/**
 * Serves open channels on another thread (the threaded host's endpoint
 * worker). lend() takes the channel if it can (false: served here);
 * recall() gives it back stopped: when it returns, the other thread no
 * longer touches the rings, the guest's pages, the scratch pages or the
 * device's disk, and its state is what it returns (undefined: it never
 * started serving).
 */
export interface EndpointOffload {
  lend(device: ChannelEndpoint, rings: ChannelRings): boolean;
  recall(device: ChannelEndpoint): ServedState | undefined;
}

/** A packet the device will not take: the endpoint closes the channel with this message. */
export class EndpointFault extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointFault';
  }
}

const PAGE = 4096;
/** Scratch: a batch's info at 0, answers from 64 to the end of page 0, packets read into pages 1-3. */
export const SCRATCH_PAGES = 4;
const INFO_AT = 0;
const TX_AT = 64;
const TX_MAX = PAGE - TX_AT;
const RX_AT = PAGE;
/** The largest packet a device takes (descriptor, GPA ranges and payload). */
export const MAX_PACKET = (SCRATCH_PAGES - 1) * PAGE;
/**
 * Most packets read in one batch. Small packets (a 64-byte storvsc request,
 * a netvsc completion) come many to a batch; the scratch pages and the
 * answers' room bound it further.
 */
const MAX_BATCH = 64;

export abstract class ChannelEndpoint implements VmbusDevice {
  abstract readonly classId: string;
  abstract readonly instanceId: string;
  /** Bytes of the largest answer the device sends for one packet: a packet is read only when that much room is free. */
  protected abstract readonly maxReply: number;

  protected ctx: VmbusDeviceContext | undefined;
  private scratch = 0;
  private rx: VmbusRing | undefined;
  private tx: VmbusRing | undefined;
  private signalGuest: (() => void) | undefined;
  private fail: ((reason: string) => void) | undefined;
  private busy = false;
  private rings: ChannelRings | undefined;
  /** Where the open channel is served while it is lent (see EndpointOffload). */
  private lentTo: EndpointOffload | undefined;
  /** Set by the device's owner: a thread of its own may serve the open channel (lend and recall). */
  offload: EndpointOffload | undefined;
  /** Packets read and answers sent since the channel opened, and why it was last closed by us. */
  readonly stats = { packets: 0, replies: 0, signals: 0, blocked: 0 };
  fault: string | undefined;

  /** Handles one packet; answers with send(). Throws EndpointFault for a packet it will not take. */
  protected abstract onPacket(p: Packet): void;
  /** The channel opened: the device's protocol starts from scratch. */
  protected onOpen(): void {}

  attach(ctx: VmbusDeviceContext): void {
    this.ctx = ctx;
  }

  open(rings: ChannelRings, signal: () => void, fail?: (reason: string) => void): void {
    const ctx = this.ctx;
    if (!ctx) throw new Error(`${this.constructor.name}: open before attach`); // a wiring bug, not the guest's
    if (!this.scratch) this.scratch = ctx.scratch(SCRATCH_PAGES);
    this.signalGuest = signal;
    this.fail = fail;
    this.fault = undefined;
    Object.assign(this.stats, { packets: 0, replies: 0, signals: 0, blocked: 0 });
    if (!this.scratch) {
      this.stop('out of host frames for the channel’s scratch pages');
      return;
    }
    this.setRings(rings);
    this.onOpen();
    if (!this.handOff()) this.notify(); // packets the guest wrote before OPENCHANNEL_RESULT
  }

  private setRings(rings: ChannelRings): void {
    const ctx = this.ctx!;
    this.rings = rings;
    this.rx = new VmbusRing(ctx.ring, ctx.memory, rings.outbound.addr, rings.outbound.size);
    this.tx = new VmbusRing(ctx.ring, ctx.memory, rings.inbound.addr, rings.inbound.size);
  }

  close(): void {
    if (this.lentTo) this.takeBack(false);
    this.rx = this.tx = this.rings = undefined;
    this.signalGuest = this.fail = undefined;
  }

  /** Lends the open channel to `offload`'s thread if it takes it; true if it is served there now. */
  handOff(): boolean {
    if (this.lentTo) return true;
    const to = this.offload;
    if (!to || !this.rings || !to.lend(this, this.rings)) return false;
    this.lentTo = to;
    return true;
  }

  /**
   * Takes a lent channel back (synchronous: the other thread has stopped
   * serving it when this returns), with the device's state as it left it;
   * `serve`: then drains here what came in meanwhile.
   */
  takeBack(serve = true): void {
    const from = this.lentTo;
    if (!from) return;
    this.lentTo = undefined;
    const s = from.recall(this);
    if (s) this.adopt(s);
    if (serve && this.rx) this.notify();
  }

  /** Takes on the state a channel's other server left it in (a recall here; a lend on the server thread). */
  adopt(s: ServedState): void {
    if (s.state) (this as VmbusDevice).restore?.(s.state);
    Object.assign(this.stats, s.stats);
    this.fault = s.fault;
  }

  get lent(): boolean {
    return this.lentTo !== undefined;
  }

  /** What a server thread gives back at a recall: the device's state, its counters, its fault. */
  served(): ServedState {
    const save = (this as VmbusDevice).save;
    return { state: save?.call(this), stats: { ...this.stats }, fault: this.fault };
  }

  /** The scratch pages (host address), 0 before the first open: a server thread copies packets through the same pages. */
  get scratchAddress(): number {
    return this.scratch;
  }

  /** The channel's server thread refused the guest's packets: closed with `reason`, as if here. */
  faulted(reason: string): void {
    this.stop(reason);
  }

  /**
   * A restored partition's open channel: the rings again (in guest RAM, as
   * saved), the device's protocol where its restore() put it, not restarted.
   */
  resume(rings: ChannelRings, signal: () => void, fail: (reason: string) => void): void {
    const ctx = this.ctx;
    if (!ctx) throw new Error(`${this.constructor.name}: resume before attach`);
    if (!this.scratch) this.scratch = ctx.scratch(SCRATCH_PAGES);
    this.signalGuest = signal;
    this.fail = fail;
    if (!this.scratch) {
      this.stop('out of host frames for the channel’s scratch pages');
      return;
    }
    this.setRings(rings);
    this.handOff();
  }

  /** The partition is going away: the scratch pages go back to the frame pool. */
  detach(): void {
    this.close();
    if (this.scratch) this.ctx?.freeScratch(this.scratch, SCRATCH_PAGES);
    this.scratch = 0;
  }

  get isOpen(): boolean {
    return this.rx !== undefined;
  }

  notify(): void {
    if (this.busy || this.lentTo) return; // an answer's signal came back in (deterministic host): the loop below reads on
    this.busy = true;
    try {
      this.drain();
    } catch (e) {
      if (!(e instanceof EndpointFault)) throw e; // our bug: the host reports it as the device's crash
      this.stop(e.message);
    } finally {
      this.busy = false;
    }
  }

  private drain(): void {
    const ctx = this.ctx!;
    for (;;) {
      const rx = this.rx;
      if (!rx) return;
      rx.beginRead();
      for (;;) {
        const room = this.repliesRoom();
        if (!room) {
          rx.endRead();
          return; // the guest signals when it has made room
        }
        const n = rx.readBatch(this.scratch + RX_AT, MAX_PACKET, Math.min(room, MAX_BATCH), this.scratch + INFO_AT);
        if (n === 0) break;
        if (n < 0) throw new EndpointFault(this.ringError(n, rx));
        // One read-index commit for the batch: the guest waits to write (pending_send_sz) and now may.
        if (new Uint32Array(ctx.memory.buffer, this.scratch + INFO_AT, 2)[1]) this.signal();
        let at = this.scratch + RX_AT;
        for (let i = 0; i < n; i++) {
          const d = rx.descriptorAt(at);
          this.stats.packets++;
          const raw = new Uint8Array(ctx.memory.buffer, at, d.len8 * 8);
          this.onPacket({ type: d.type, flags: d.flags, transId: d.transId, raw, offset: d.offset8 * 8 });
          if (!this.rx) return; // the device closed the channel; the rest of the batch goes with it
          at += d.len8 * 8;
        }
      }
      const more = rx.endRead();
      if (more < 0) throw new EndpointFault(this.ringError(more, rx));
      if (more === 0) return;
    }
  }

  /**
   * How many packets may be read now: as many as the host -> guest ring
   * has room for the largest answer to each (so no answer ever waits). None:
   * asks the guest to signal when one fits (Linux's blocked writer).
   */
  private repliesRoom(): number {
    const tx = this.tx!;
    const need = packetFootprint(this.maxReply);
    const free = tx.free();
    if (free < 0) throw new EndpointFault(this.ringError(free, tx));
    if (free > need) return Math.floor((free - 1) / need);
    tx.setPendingSend(need);
    const again = tx.free(); // the guest may have read in between: then it will not signal
    if (again > need) {
      tx.setPendingSend(0);
      return Math.floor((again - 1) / need);
    }
    this.stats.blocked++;
    return 0;
  }

  /** Sends one packet to the guest (a completion of `transId`, or data). */
  protected send(type: number, transId: bigint, payload: Uint8Array, flags = 0): void {
    if (!this.trySend(type, transId, payload, flags)) throw new EndpointFault('the host -> guest ring filled up behind the device');
  }

  /**
   * Sends one packet unless the host -> guest ring has no room for it
   * (false; a packet the device sends of its own accord, such as a received
   * frame, may be dropped). `header`: bytes between the descriptor and the
   * payload (offset8 covers them), e.g. a transfer-page header.
   * Throws EndpointFault for a corrupt ring.
   */
  protected trySend(type: number, transId: bigint, payload: Uint8Array, flags = 0, header?: Uint8Array): boolean {
    const tx = this.tx;
    if (!tx) return false;
    const hlen = header?.length ?? 0;
    const len = hlen + payload.length;
    if (len > Math.min(TX_MAX, this.maxReply) || hlen % 8) throw new Error(`${this.constructor.name}: packet of ${len} bytes exceeds its maxReply`);
    const ctx = this.ctx!;
    const out = new Uint8Array(ctx.memory.buffer, this.scratch + TX_AT, len);
    if (header) out.set(header);
    out.set(payload, hlen);
    const r = tx.writeAt(type, 2 + hlen / 8, flags, transId, this.scratch + TX_AT, len);
    if (r === RingResult.FULL) return false;
    if (r < 0) throw new EndpointFault(this.ringError(r, tx));
    this.stats.replies++;
    if (r === RingResult.SIGNAL) this.signal();
    return true;
  }

  /** Runs `f` (work the device does outside notify(), e.g. a frame from the switch); a fault closes the channel. */
  protected guarded(f: () => void): void {
    try {
      f();
    } catch (e) {
      if (!(e instanceof EndpointFault)) throw e;
      this.stop(e.message);
    }
  }

  /** A completion packet (VM_PKT_COMP) answering the guest's `transId`. */
  protected complete(transId: bigint, payload: Uint8Array): void {
    this.send(PacketType.COMP, transId, payload);
  }

  private signal(): void {
    this.stats.signals++;
    this.signalGuest?.();
  }

  /** Closes the channel on the host's side with `reason` (logged by the channel manager). */
  protected stop(reason: string): void {
    this.fault = reason;
    const fail = this.fail;
    this.close();
    if (fail) fail(reason);
    else this.ctx?.log(`vmbus: ${this.constructor.name}: ${reason}`);
  }

  private ringError(r: number, ring: VmbusRing): string {
    const which = ring === this.rx ? 'guest -> host' : 'host -> guest';
    switch (r) {
      case RingResult.BAD_INDEX:
        return `${which} ring: index past its data area or misaligned (write ${ring.writeIndex}, read ${ring.readIndex}, data ${ring.dataSize})`;
      case RingResult.BAD_PACKET:
        return `${which} ring: malformed packet descriptor at read index ${ring.readIndex}`;
      case RingResult.NO_ROOM:
        return `${which} ring: a packet of more than ${MAX_PACKET} bytes (the device takes at most that)`;
      case RingResult.BAD_SIZE:
        return `${which} ring: bad size ${ring.size}`;
      default:
        return `${which} ring: error ${r}`;
    }
  }
}

/** Does the guest want a completion for this packet (VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED)? */
export const wantsCompletion = (p: Packet): boolean => (p.flags & COMPLETION_REQUESTED) !== 0;
