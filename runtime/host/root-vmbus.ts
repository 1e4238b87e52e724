// The root partition's VMBus verbs (HostController): integration components
// (drivers/vmbus/ic-control.ts), channel status, hot add and remove
// (vmbus-hotplug.ts), switch ports; and the lending of open channels to the
// endpoint worker (endpoint-server.ts). All on the root's thread, where the
// devices run.
import type { Machine } from '../machine/machine.ts';
import { hostSwitch } from '../machine/setup.ts';
import { ControlError, type SwitchPortStatus } from './controller.ts';
import type { DiskSpec, NicSpec } from './spec.ts';
import { channelStatus, type ChannelStatus } from '../../drivers/vmbus/status.ts';
import { nicPorts } from '../../drivers/vmbus/netvsc.ts';
import { guestShutdown, heartbeat, IcError, kvpRead, kvpWrite, type HeartbeatInfo, type KvpPools } from '../../drivers/vmbus/ic-control.ts';
import { hotAddDisk, hotAddNic, hotRemove, openImages } from './vmbus-hotplug.ts';
import { ChannelEndpoint } from '../../drivers/vmbus/endpoint.ts';
import type { StorvscDevice } from '../../drivers/vmbus/storvsc.ts';
import { SwitchableDevice } from '../../drivers/block/switchable.ts';
import type { EndpointServer, ServedPartition } from './endpoint-server.ts';
import { asInput, mustBeLive, vmbusDevices, type Partition, type Root } from './root-partition.ts';

// ---- channels served by the endpoint worker ----------------------------------

/** Lets `p`'s channel endpoints be lent by `endpoints` (each when its channel opens, or at once if open). */
export function offloadChannels(endpoints: EndpointServer, p: Partition): void {
  const served: ServedPartition = {
    machine: p.machine,
    get lendable() {
      return p.state === 'running' && p.moves.size === 0;
    },
    diskOf: (device: StorvscDevice) => {
      const i = p.disks.indexOf(device.disk);
      const hot = p.hot.byDevice.get(device);
      const disk = i >= 0 ? p.disks[i] : hot?.disk;
      const spec = i >= 0 ? p.spec.disks[i] : hot?.spec;
      return disk instanceof SwitchableDevice && spec ? { disk, spec } : undefined;
    },
  };
  const offload = endpoints.offload(() => served);
  for (const d of vmbusDevices(p.machine) ?? []) if (d instanceof ChannelEndpoint) d.offload = offload;
}

/** Every lent channel of `p` back on this thread (the device's state with it), before the root touches them or their disks. */
export function recallChannels(p: Partition): void {
  for (const d of vmbusDevices(p.machine) ?? []) if (d instanceof ChannelEndpoint) d.takeBack();
}

/** `p`'s open channels lent again (it runs, no disk of it moves). */
export function lendChannels(p: Partition): void {
  for (const d of vmbusDevices(p.machine) ?? []) if (d instanceof ChannelEndpoint) d.handOff();
}

// ---- the control plane's VMBus verbs -------------------------------------------

export class RootVmbus {
  constructor(private readonly root: Root) {}

  /**
   * Runs IC request `f` on partition `id`'s VMBus devices; an IcError comes
   * out as a ControlError naming the partition. A request needs the guest
   * running: a paused one could not answer it.
   */
  private async ic<T>(id: number, f: (devices: Machine['config']['vmbus']) => T | Promise<T>, running = true): Promise<T> {
    const p = this.root.get(id);
    if (running && p.state !== 'running') throw new ControlError(`partition ${p.spec.name} is ${p.state}, not running`);
    try {
      return await f(vmbusDevices(p.machine)); // an IC removed while it ran is not asked
    } catch (e) {
      if (e instanceof IcError) throw new ControlError(`partition ${p.spec.name}: ${e.message}`);
      throw e;
    }
  }

  async guestShutdown(id: number, options: { reboot?: boolean } = {}): Promise<void> {
    return this.ic(id, (d) => guestShutdown(d, options.reboot === true));
  }

  async kvpRead(id: number): Promise<KvpPools> {
    return this.ic(id, kvpRead);
  }

  async kvpWrite(id: number, key: string, value: string): Promise<void> {
    return this.ic(id, (d) => kvpWrite(d, key, value));
  }

  async heartbeat(id: number): Promise<HeartbeatInfo> {
    return this.ic(id, heartbeat, false);
  }

  async channels(id: number): Promise<ChannelStatus[]> {
    const m = this.root.get(id).machine;
    return m.vmbus ? channelStatus(m.vmbus, m.memory, m.vmbus.deviceList) : [];
  }

  async addVmbusDisk(id: number, disk: DiskSpec): Promise<number> {
    const p = this.root.get(id);
    mustBeLive(p);
    const inUse = [...this.root.parts.values()].filter((q) => q.state !== 'finished').flatMap((q) => openImages(q.spec, q.hot));
    const relid = asInput(() => hotAddDisk(p.machine, p.spec.name, p.hot, disk, inUse));
    this.root.offload(p); // the new disk's channel is lent once the guest opens it
    return relid;
  }

  async addVmbusNic(id: number, nic: NicSpec = {}): Promise<number> {
    const p = this.root.get(id);
    mustBeLive(p);
    const relid = hotAddNic(p.machine, p.spec.name, p.hot, hostSwitch(this.root.hv), nic);
    this.root.offload(p); // as a spec's NIC
    return relid;
  }

  async removeVmbusDevice(id: number, relid: number): Promise<void> {
    const p = this.root.get(id);
    mustBeLive(p);
    hotRemove(p.machine, p.spec.name, p.hot, relid);
  }

  async switchPorts(): Promise<SwitchPortStatus[]> {
    return [...this.root.parts].flatMap(([id, p]) => nicPorts(vmbusDevices(p.machine) ?? []).map((port) => ({ ...port, partition: id })));
  }
}
