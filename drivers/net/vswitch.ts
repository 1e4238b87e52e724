// The root partition's virtual switch: a learning L2 switch with one port
// per partition NIC, the Hyper-V vSwitch in small. It lives on the thread
// that services the partitions' exits (the root partition's worker, or the
// deterministic host's only thread), so a frame crosses it synchronously:
// the sender's NIC hands it in while servicing the sender's exit, and the
// receiving NICs copy it into their guests' receive buffers before that
// exit completes. Nothing here touches guest memory; the NICs do.
//
//   forward(port, frame):
//     source MAC multicast?  ─► dropped (dropsIn), it cannot be learned
//     learn source MAC -> port (bounded: per port and in all)
//     unicast to a learned MAC ─► that port
//     otherwise (broadcast, multicast, unknown unicast) ─► every other port
//     each receiving port filters as its guest asked (MAC filtering):
//       unicast for its own MAC, broadcast, multicast per its packet filter;
//       promiscuous takes everything
//     the NIC may still refuse (no free receive section, ring full): dropsOut
//
// Counters per port (frames/bytes in from its NIC, out to it, drops each
// way) are what HostController and `hv run --stats` show.

/** What a port asks of its NIC. */
export interface SwitchNic {
  /** The guest's packet filter (RNDIS_PACKET_TYPE_*, rndis.ts PacketFilter); 0 receives nothing. */
  readonly filter: number;
  /** Copies the frame to the guest; false if it could not take it now (counted as a drop). */
  deliver(frame: Uint8Array): boolean;
}

export interface PortCounters {
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  /** Frames from this port the switch or its NIC dropped (malformed, oversized, bad source). */
  dropsIn: number;
  /** Frames for this port its NIC could not take. */
  dropsOut: number;
}

export interface PortInfo extends PortCounters {
  id: number;
  name: string;
  mac: string;
  /** MACs the switch learned on this port. */
  learned: number;
}

const FILTER_DIRECTED = 0x1;
const FILTER_MULTICAST = 0x2;
const FILTER_ALL_MULTICAST = 0x4;
const FILTER_BROADCAST = 0x8;
const FILTER_PROMISCUOUS = 0x20;

/** MACs learned per port, and in all: a guest making up source addresses cannot grow the table without end. */
export const MAX_LEARNED_PER_PORT = 64;
export const MAX_LEARNED = 4096;

export class SwitchPort {
  readonly counters: PortCounters = { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, dropsIn: 0, dropsOut: 0 };
  learned = 0;
  connected = true;
  private readonly macKey: number;

  constructor(
    private readonly sw: VirtualSwitch,
    readonly id: number,
    readonly name: string,
    readonly mac: Uint8Array,
    readonly nic: SwitchNic,
  ) {
    this.macKey = macKey(mac, 0);
  }

  /** A frame from this port's NIC (a whole Ethernet frame, header included). */
  send(frame: Uint8Array): void {
    if (this.connected) this.sw.forward(this, frame);
  }

  /** The NIC dropped a frame from its guest before it reached the switch (malformed RNDIS, oversized). */
  dropIn(): void {
    this.counters.dropsIn++;
  }

  /** Does this port's guest want a frame for `dst` (MAC filtering)? */
  accepts(frame: Uint8Array): boolean {
    const f = this.nic.filter;
    if (f & FILTER_PROMISCUOUS) return true;
    if (isBroadcast(frame)) return (f & FILTER_BROADCAST) !== 0;
    if (frame[0]! & 1) return (f & (FILTER_MULTICAST | FILTER_ALL_MULTICAST)) !== 0;
    return (f & FILTER_DIRECTED) !== 0 && macKey(frame, 0) === this.macKey;
  }

  disconnect(): void {
    this.sw.disconnect(this);
  }

  /** The port with its counters, for listings. */
  info(): PortInfo {
    return { id: this.id, name: this.name, mac: formatMac(this.mac), learned: this.learned, ...this.counters };
  }
}

export class VirtualSwitch {
  private readonly ports = new Map<number, SwitchPort>();
  /** Learned MAC (48 bits as a number) -> port. */
  private readonly table = new Map<number, SwitchPort>();
  private nextId = 1;

  constructor(private readonly log: (line: string) => void = () => {}) {}

  /** A new port for a NIC with MAC `mac`, named for listings (e.g. "web/0": partition and NIC). */
  connect(name: string, mac: Uint8Array, nic: SwitchNic): SwitchPort {
    if (mac.length !== 6) throw new RangeError(`MAC of ${mac.length} bytes`);
    const port = new SwitchPort(this, this.nextId++, name, mac.slice(), nic);
    this.ports.set(port.id, port);
    return port;
  }

  disconnect(port: SwitchPort): void {
    if (!port.connected) return;
    port.connected = false;
    this.ports.delete(port.id);
    for (const [mac, p] of this.table) if (p === port) this.table.delete(mac);
    port.learned = 0;
  }

  /** Every port with its counters, in the order they were connected. */
  list(): PortInfo[] {
    return [...this.ports.values()].map((p) => p.info());
  }

  forward(from: SwitchPort, frame: Uint8Array): void {
    from.counters.framesIn++;
    from.counters.bytesIn += frame.length;
    if (frame.length < 14) {
      from.counters.dropsIn++;
      return;
    }
    if (frame[6]! & 1) {
      // A group address as the source: no NIC sends that; it must not be learned.
      from.counters.dropsIn++;
      if (from.counters.dropsIn === 1) this.log(`vswitch: port ${from.name}: frame with multicast source ${formatMac(frame.subarray(6, 12))} dropped`);
      return;
    }
    this.learn(from, macKey(frame, 6));
    if (!(frame[0]! & 1)) {
      const to = this.table.get(macKey(frame, 0));
      if (to) {
        if (to !== from && to.accepts(frame)) this.deliver(to, frame);
        return;
      }
    }
    for (const to of this.ports.values()) if (to !== from && to.accepts(frame)) this.deliver(to, frame);
  }

  private deliver(to: SwitchPort, frame: Uint8Array): void {
    if (to.nic.deliver(frame)) {
      to.counters.framesOut++;
      to.counters.bytesOut += frame.length;
    } else to.counters.dropsOut++;
  }

  private learn(port: SwitchPort, mac: number): void {
    const had = this.table.get(mac);
    if (had === port) return;
    if (port.learned >= MAX_LEARNED_PER_PORT || (!had && this.table.size >= MAX_LEARNED)) return; // full: unknown unicast floods
    if (had) had.learned--; // the address moved (a guest moved, or lies): last seen wins
    this.table.set(mac, port);
    port.learned++;
  }
}

/** One port as `hv run --stats` prints it. */
export function portLine(p: PortInfo): string {
  return `switch port ${p.name} (${p.mac}): in ${p.framesIn} frames ${p.bytesIn} B, out ${p.framesOut} frames ${p.bytesOut} B, dropped in ${p.dropsIn} out ${p.dropsOut}, ${p.learned} MACs learned`;
}

/** The 48-bit MAC at `at` in `b` as a number (exact: below 2^53). */
function macKey(b: Uint8Array, at: number): number {
  let k = 0;
  for (let i = 0; i < 6; i++) k = k * 256 + b[at + i]!;
  return k;
}

const isBroadcast = (frame: Uint8Array): boolean => frame[0] === 0xff && frame[1] === 0xff && frame[2] === 0xff && frame[3] === 0xff && frame[4] === 0xff && frame[5] === 0xff;

export function formatMac(mac: Uint8Array): string {
  return [...mac.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** "52:54:00:12:34:56" (or with dashes) as 6 bytes; undefined if it is not one, or not a unicast address a NIC may have. */
export function parseMac(text: string): Uint8Array | undefined {
  const m = /^([0-9a-fA-F]{2})([:-])([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})$/.exec(text);
  if (!m) return undefined;
  const mac = Uint8Array.from([m[1], m[3], m[4], m[5], m[6], m[7]].map((h) => parseInt(h!, 16)));
  if (mac[0]! & 1 || mac.every((b) => b === 0)) return undefined;
  return mac;
}

/**
 * The MAC of NIC `index` of partition `name` when its config names none:
 * Hyper-V's prefix 00:15:5d and three bytes of an FNV-1a hash of both, so a
 * partition keeps its addresses from run to run.
 */
export function generatedMac(name: string, index: number): Uint8Array {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(`${name}/${index}`, 'utf8')) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return Uint8Array.from([0x00, 0x15, 0x5d, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff]);
}
