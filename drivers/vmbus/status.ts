// What the control plane shows of a partition's VMBus (HostController.channels,
// `hv run --stats`): each channel with its device and how full its rings
// are, and each integration component's state. Read on the thread that runs
// the devices (the root's), between exits; the ring indices are read with
// Atomics because the guest moves them from its vCPU's thread meanwhile.
import type { VmbusDevice } from './channel-manager.ts';
import { DM_CLASS_ID } from './dm.ts';
import type { VmbusHost } from './host.ts';
import { IntegrationComponent, versionString, type IcState } from './ic.ts';
import { NETVSC_CLASS_ID } from './netvsc.ts';
import { RingLayout } from './ring.ts';
import { STORVSC_CLASS_ID } from './storvsc.ts';
import { ServedConnections } from './served.ts';

export interface ChannelStatus {
  relid: number;
  /** 'storage', 'network', 'dynamic memory', or the IC's service name ('heartbeat', ...); else the class GUID. */
  device: string;
  instanceId: string;
  state: 'offered' | 'open' | 'rescinded';
  /**
   * Open channels: bytes of packets waiting in each ring, as Linux names
   * them from the guest's side: `inBytes` host -> guest, `outBytes` guest -> host;
   * `ringBytes` the data area of each.
   */
  inBytes?: number;
  outBytes?: number;
  ringBytes?: { in: number; out: number };
  /** Open channels: the thread that serves them now, read from the event area's server bit (docs/vmbus.md). */
  servedBy?: 'root' | 'endpoint worker';
}

export interface IcStatus {
  service: string;
  state: IcState;
  /** The negotiated service version ('3.0'), or null before negotiation. */
  version: string | null;
  /** Requests queued or waiting for the guest's answer. */
  pending: number;
}

const DEVICE_NAMES: Record<string, string> = { [STORVSC_CLASS_ID]: 'storage', [NETVSC_CLASS_ID]: 'network', [DM_CLASS_ID]: 'dynamic memory' };

/** Bytes between read and write index of the ring at host address `addr` (`size` with its header page). */
function ringUsed(words: Uint32Array, addr: number, size: number): number {
  const data = size - RingLayout.headerSize;
  const w = Atomics.load(words, (addr + RingLayout.writeIndex) >>> 2);
  const r = Atomics.load(words, (addr + RingLayout.readIndex) >>> 2);
  if (w >= data || r >= data) return data; // a guest scribbling on its indices: the device will fault the channel
  return w >= r ? w - r : data - r + w;
}

/** The channels of `host` (a partition's VMBus) in relid order. */
export function channelStatus(host: VmbusHost, memory: WebAssembly.Memory, devices: readonly VmbusDevice[]): ChannelStatus[] {
  const words = new Uint32Array(memory.buffer);
  const byInstance = new Map(devices.map((d) => [d.instanceId, d]));
  const served = new ServedConnections(memory, host.synic.eventArea);
  return host.channels.list().map((c) => {
    const d = byInstance.get(c.instanceId);
    const device = d instanceof IntegrationComponent ? d.service : (DEVICE_NAMES[c.classId] ?? c.classId);
    const s: ChannelStatus = { relid: c.relid, device, instanceId: c.instanceId, state: c.state };
    if (c.state === 'open' && c.rings) {
      const { inbound, outbound } = c.rings;
      s.inBytes = ringUsed(words, inbound.addr, inbound.size);
      s.outBytes = ringUsed(words, outbound.addr, outbound.size);
      s.ringBytes = { in: inbound.size - RingLayout.headerSize, out: outbound.size - RingLayout.headerSize };
      s.servedBy = served.served(c.relid) ? 'endpoint worker' : 'root';
    }
    return s;
  });
}

/** The integration components among `devices`, in offer order. */
export function icStatus(devices: readonly VmbusDevice[]): IcStatus[] {
  return devices
    .filter((d): d is IntegrationComponent => d instanceof IntegrationComponent)
    .map((ic) => ({ service: ic.service, state: ic.state, version: ic.version ? versionString(ic.version) : null, pending: ic.pending }));
}

/** `hv run --stats` lines: a channel each, then the ICs. */
export function statusLines(channels: readonly ChannelStatus[], ics: readonly IcStatus[]): string[] {
  const lines = channels.map((c) => {
    const rings = c.ringBytes ? `, ring in ${c.inBytes}/${c.ringBytes.in} B, out ${c.outBytes}/${c.ringBytes.out} B` : '';
    return `vmbus channel ${c.relid}: ${c.device}, ${c.state}${rings}`;
  });
  for (const ic of ics) lines.push(`vmbus ic ${ic.service}: ${ic.state}${ic.version ? ` (version ${ic.version})` : ''}${ic.pending ? `, ${ic.pending} requests pending` : ''}`);
  return lines;
}
