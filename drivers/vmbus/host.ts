// One partition's VMBus on the root's side: its SynICs (synic.ts) and its
// channel manager (channel-manager.ts), joined to the SBI requests its vCPUs
// exit with (kernel/hypercall/synic.ts): a posted message goes to the
// channel manager, whose answers go into the guest's message slots; an EOM
// moves queued messages on; a signalled connection reaches its device.
import { ChannelManager, type SavedChannels, type VmbusDevice } from './channel-manager.ts';
import { DeviceStateError } from '../emulated/device.ts';
import { VMBUS_MESSAGE_CONNECTION_ID, VMBUS_MESSAGE_CONNECTION_ID_4, VMBUS_MESSAGE_SINT, VMBUS_MESSAGE_TYPE } from './messages.ts';
import { SynicHost, SynicResult, synicOffsets, type SavedSynic, type SynicKernel, type SynicPartition } from './synic.ts';
import type { GuestMemory } from '../emulated/dma.ts';
import type { RingKernel } from './ring.ts';
import type { VmbusDeviceContext } from './endpoint.ts';

/** kernel/hypercall/defs.ts SbiExit: the requests this module services. */
export const VmbusExit = { POST_MESSAGE: 5, SYNIC_EOM: 6, SIGNAL_EVENT: 7 } as const;

const SBI_ERR_INVALID_PARAM = -3;
const SBI_ERR_DENIED = -4;

export interface VmbusHostConfig extends SynicPartition {
  memory: WebAssembly.Memory;
  kernel: SynicKernel;
  /** The kernel's vCPU offsets (KernelLayout.off). */
  offsets: Record<string, number>;
  /** Guest RAM: guest-physical base, size, host address (one run, unless `pinning` says where each page is). */
  ram: { gpa: number; size: number; host: number };
  /** Overcommit partitions: RAM is mapped page by page, and GPADL pages are pinned into one host run each. */
  pinning?: GpadlPinning;
  devices: readonly VmbusDevice[];
  /** `devices` are not the spec's: some were added or removed while the partition ran, before a reboot. */
  hotplugged?: boolean;
  /** Guest RAM, checked (devices' data buffers), the kernel's ring primitives, and scratch pages for devices (endpoint.ts). */
  guest: GuestMemory;
  ring: RingKernel;
  scratch(pages: number): number;
  freeScratch(addr: number, pages: number): void;
  /** The guest's clock in ticks (what integration components time themselves by). */
  now(): number;
  log(line: string): void;
}

/**
 * GPADL pages on an overcommit partition (runtime/machine/overcommit.ts,
 * kernel/mm/pin.ts): where a page is, and pinning a GPADL's pages into one
 * fresh host-contiguous run while the guest holds the GPADL.
 */
export interface GpadlPinning {
  /** Host address of RAM page `gpa` if it has a frame now (ballooned: undefined; nothing faulted in). */
  hostOf(gpa: number): number | undefined;
  /** Moves the pages into one new host run, pinned; returns why not (then nothing stays pinned). */
  pin(gpas: readonly number[]): string | undefined;
  unpin(gpas: readonly number[]): void;
}

/** A save of a partition whose VMBus holds something that cannot be saved: refused, never lost silently. */
export class VmbusSaveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VmbusSaveError';
  }
}

/** VmbusHost.save(): the root's side of the partition's VMBus (the guest's side is its RAM and vCPU blocks). */
export interface SavedVmbus {
  synic: SavedSynic;
  channels: SavedChannels;
  devices: { classId: string; instanceId: string; version: number; state: object }[];
}

const isVmbusConnection = (id: number) => id === VMBUS_MESSAGE_CONNECTION_ID || id === VMBUS_MESSAGE_CONNECTION_ID_4;

export class VmbusHost {
  readonly synic: SynicHost;
  readonly channels: ChannelManager;
  private readonly log: (line: string) => void;
  /** The partition's devices: its config's, then those added while it runs (addDevice), less those removed. */
  private readonly devices: VmbusDevice[];
  /** Devices were added or removed while it ran: its spec no longer names them (vmbus-hotplug.ts specNow does). */
  private changed: boolean;
  private readonly context: VmbusDeviceContext;

  private readonly now: () => number;

  constructor(c: VmbusHostConfig) {
    this.log = c.log;
    this.now = c.now;
    this.devices = [...c.devices];
    this.changed = c.hotplugged === true;
    // exitOnSignal: the channels are served where the vCPU's exits are
    // (deterministic host); else a host thread waits on the event area's
    // doorbell and calls poll() (docs/vmbus.md, "A packet's path").
    this.synic = new SynicHost(c.memory, c.kernel, synicOffsets(c.offsets), c);
    const firstPfn = BigInt(c.ram.gpa / 4096);
    const pages = BigInt(c.ram.size / 4096);
    const pinning = c.pinning;
    this.channels = new ChannelManager({
      send: (vp, payload) => {
        const r = this.synic.post(vp, VMBUS_MESSAGE_SINT, VMBUS_MESSAGE_TYPE, payload);
        if (r !== SynicResult.OK) c.log(`vmbus: message ${new DataView(payload.buffer).getUint32(0, true)} to vCPU ${vp} not delivered (SynIC result ${r})`);
        return r === SynicResult.OK;
      },
      signal: (vp, relid) => void this.synic.signal(vp, VMBUS_MESSAGE_SINT, relid),
      frameHost: (pfn) => {
        if (pfn < firstPfn || pfn - firstPfn >= pages) return undefined;
        return pinning ? pinning.hostOf(Number(pfn) * 4096) : c.ram.host + Number(pfn - firstPfn) * 4096;
      },
      ...(pinning ? {
        isRam: (pfn: bigint) => pfn >= firstPfn && pfn - firstPfn < pages,
        pin: (pfns: readonly bigint[]) => pinning.pin(pfns.map((p) => Number(p) * 4096)),
        unpin: (pfns: readonly bigint[]) => pinning.unpin(pfns.map((p) => Number(p) * 4096)),
      } : {}),
      vcpus: c.harts,
      log: c.log,
    });
    this.context = { memory: c.memory, ring: c.ring, guest: c.guest, scratch: c.scratch, freeScratch: c.freeScratch, now: c.now, log: c.log, gpadl: (h) => this.channels.gpadl(h) };
    for (const d of c.devices) this.plug(d);
  }

  private plug(d: VmbusDevice): number {
    d.attach?.(this.context);
    return this.channels.add(d);
  }

  /**
   * Hot add: device `d` joins the running partition's VMBus and is offered
   * at once if the guest is connected (OFFERCHANNEL), else at its next
   * REQUESTOFFERS. Returns its relid.
   */
  addDevice(d: VmbusDevice): number {
    this.changed = true;
    this.devices.push(d);
    return this.plug(d);
  }

  /**
   * Hot remove: the channel `relid` is closed on our side at once (its
   * ring is no longer served; the device lets go of it and of its scratch
   * pages) and its offer rescinded (RESCIND_CHANNELOFFER); the relid stays
   * taken until the guest answers RELID_RELEASED. Other channels go on.
   * Returns the device removed (its owner closes what it holds, e.g. a
   * disk image), or undefined when no such channel is offered.
   */
  removeDevice(relid: number): VmbusDevice | undefined {
    const ch = this.channels.list().find((c) => c.relid === relid && c.state !== 'rescinded');
    const i = ch ? this.devices.findIndex((d) => d.instanceId === ch.instanceId && d.classId === ch.classId) : -1;
    if (i < 0) return undefined;
    const [d] = this.devices.splice(i, 1);
    this.changed = true;
    this.channels.remove(relid);
    d!.detach?.();
    return d;
  }

  /**
   * Services SBI request `kind` of hart `hart` (it waits in its exit).
   * Returns false for requests that are not VMBus's.
   */
  request(hart: number, kind: number): boolean {
    switch (kind) {
      case VmbusExit.POST_MESSAGE: {
        const m = this.synic.takePost(hart);
        // Our answers queue behind the guest's slot; a guest that never
        // takes them gets its posts refused (DENIED, retry) instead of
        // making the host hold more.
        if (this.synic.queued(hart) >= 32) {
          this.synic.setResult(hart, SBI_ERR_DENIED);
          return true;
        }
        // A post nobody listens on fails (HV_STATUS_INVALID_CONNECTION_ID);
        // a VMBus message the manager refuses was still delivered: the guest
        // learns of the refusal through the manager's answer, as on Hyper-V.
        if (m.type !== VMBUS_MESSAGE_TYPE || !isVmbusConnection(m.connectionId)) {
          this.log(`vmbus: post of type ${m.type} to connection ${m.connectionId} refused`);
          this.synic.setResult(hart, SBI_ERR_INVALID_PARAM);
        } else this.channels.receive(m.connectionId, m.payload);
        return true;
      }
      case VmbusExit.SYNIC_EOM:
        this.synic.eom(hart);
        return true;
      case VmbusExit.SIGNAL_EVENT:
        this.poll();
        return true;
    }
    return false;
  }

  /** The devices on the bus now: the config's, plus those hot-added, less those removed. */
  get deviceList(): readonly VmbusDevice[] {
    return this.devices;
  }

  /** True once devices were added or removed (here, or before a reboot). */
  get hotplugged(): boolean {
    return this.changed;
  }

  /** The event area's doorbell: it moves when the guest signals a connection whose flag was clear. */
  doorbell(): number {
    return this.synic.doorbell();
  }

  /** Resolves once the doorbell moved past `seen`, or after `ms`. */
  waitSignal(seen: number, ms: number): Promise<void> {
    return this.synic.waitDoorbell(seen, ms);
  }

  /** Passes the connections the guest signalled to their channels. */
  poll(): void {
    for (const id of this.synic.takeSignals()) this.channels.signalled(id);
  }

  /** The partition's round (deterministic) or the root's poll (threaded): devices' periodic requests (heartbeat, time samples). */
  tick(): void {
    const now = this.now();
    for (const d of this.devices) d.tick?.(now);
  }

  /** The first of the devices' deadlines (VmbusDevice.due), in guest-clock ticks, or undefined. */
  due(): number | undefined {
    let t = Infinity;
    for (const d of this.devices) t = Math.min(t, d.due?.() ?? Infinity);
    return t === Infinity ? undefined : t;
  }

  /** The partition was paused and runs again (resumed, restored, migrated): devices that care (timesync) catch up. */
  resumed(): void {
    for (const d of this.devices) d.resumed?.();
  }

  /** The partition is destroyed: devices' scratch pages and the event area go back to the frame pool. */
  dispose(): void {
    this.channels.release(); // GPADLs dropped: on an overcommit partition their pages are unpinned
    for (const d of this.devices) d.detach?.();
    this.synic.dispose();
  }

  /**
   * The root's VMBus state of a paused partition. Throws VmbusSaveError
   * when a device cannot save its state (the save is refused).
   */
  save(): SavedVmbus {
    // The devices as they are now, hot-added ones included: the save's spec
    // must name the same (runtime/persist checks), since a restore makes them from it.
    const devices = this.devices.map((d) => {
      if (!d.save || d.stateVersion === undefined) throw new VmbusSaveError(`VMBus device ${d.classId} (instance ${d.instanceId}) cannot save its state`);
      return { classId: d.classId, instanceId: d.instanceId, version: d.stateVersion, state: d.save() };
    });
    return { synic: this.synic.save(), channels: this.channels.save(), devices };
  }

  /**
   * Checks saved state `s` against this fresh VmbusHost (the same devices,
   * each found by class and instance: a partition whose devices were hot
   * added or removed lists them in another order than its spec makes them)
   * and returns what loads it. Throws DeviceStateError naming what does
   * not fit; nothing changes before the returned call.
   */
  checkRestore(s: SavedVmbus): () => void {
    const err = (field: string, what: string) => new DeviceStateError(`vmbus.${field}: ${what}`);
    if (!s || !Array.isArray(s.devices) || s.devices.length !== this.devices.length) {
      throw err('devices', `the save has ${Array.isArray(s?.devices) ? s.devices.length : 'no'} devices, this partition ${this.devices.length}`);
    }
    const states = this.devices.map((d) => {
      const i = s.devices.findIndex((saved) => saved?.classId === d.classId && saved.instanceId === d.instanceId);
      if (i < 0) throw err('devices', `has no state for this partition's device ${d.classId} (instance ${d.instanceId})`);
      const saved = s.devices[i]!;
      if (saved.version !== d.stateVersion || !d.restore) throw err(`devices[${i}].version`, `is ${String(saved.version)}, the device reads ${String(d.stateVersion)}`);
      return saved.state;
    });
    const synic = this.synic.checkRestore(s.synic, err);
    const channels = this.channels.checkRestore(s.channels);
    return () => {
      // Devices first (their protocol state), then the channels, whose resume() gives them their rings.
      this.devices.forEach((d, i) => d.restore!(states[i]!));
      synic();
      channels();
      this.resumed(); // a restored guest's clock is set again (timesync)
    };
  }
}
