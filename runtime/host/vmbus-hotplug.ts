// Hot add and remove of synthetic devices on a running partition's VMBus
// (HostController.addVmbusDisk / addVmbusNic / removeVmbusDevice;
// docs/vmbus.md). Runs on the root's thread, where the partition's channel
// manager and devices are, between the exits it services: an added device
// is offered to a connected guest at once (OFFERCHANNEL), a removed one
// stops being served at once and is rescinded (RESCIND_CHANNELOFFER) until
// the guest releases its relid. The disk images added here are opened and closed here; the
// partition's own (its spec's) are not touched. An added NIC is a new port
// of the host's virtual switch, which it leaves when removed.
import { resolve } from 'node:path';
import type { BlockDevice } from '../../drivers/block/device.ts';
import type { VmbusDevice } from '../../drivers/vmbus/channel-manager.ts';
import { StorvscDevice, storvscInstanceId } from '../../drivers/vmbus/storvsc.ts';
import { NetvscDevice, netvscInstanceId } from '../../drivers/vmbus/netvsc.ts';
import { DynamicMemoryDevice } from '../../drivers/vmbus/dm.ts';
import type { VmbusHost } from '../../drivers/vmbus/host.ts';
import { formatMac, generatedMac, parseMac, type VirtualSwitch } from '../../drivers/net/vswitch.ts';
import { openDrive } from '../machine/drives.ts';
import { SwitchableDevice } from '../../drivers/block/switchable.ts';
import type { Machine } from '../machine/machine.ts';
import { ControlError } from './controller.ts';
import { LIMITS, vmbusSlots, type DiskSpec, type NicSpec, type PartitionSpec } from './spec.ts';

/**
 * A partition's hot-added disks by device (a reboot gives channels new
 * relids), and how many disks and NICs it has had added (their instance
 * ids, and a NIC's port name and MAC, stay unique).
 */
export interface HotDisks {
  byDevice: Map<VmbusDevice, { disk: BlockDevice; spec: DiskSpec }>;
  /** The hot-added NICs on the bus, as a spec names them (MAC and slot). */
  nics: Map<VmbusDevice, NicSpec>;
  added: number;
  nicsAdded: number;
}

export const noHotDisks = (): HotDisks => ({ byDevice: new Map(), nics: new Map(), added: 0, nicsAdded: 0 });

/**
 * The first instance number from `from` on whose id (`id(n)`) no device of
 * machine `m` has had: not its spec's (a restored spec's slots may be any),
 * nor a rescinded channel's the guest has not released.
 */
function freeSlot(m: Machine, from: number, id: (n: number) => string): number {
  const taken = new Set([...(m.config.vmbus ?? []), ...(m.vmbus?.deviceList ?? [])].map((d) => d.instanceId));
  for (const c of m.vmbus?.channels.list() ?? []) taken.add(c.instanceId);
  let n = from;
  while (taken.has(id(n))) n++;
  return n;
}

/**
 * Partition `spec` as its VMBus is now: the spec's VMBus disks and NICs
 * still on the bus (each with its slot, so a restore offers the ids the
 * guest had), then the hot-added ones, and the ICs not removed. What a save,
 * snapshot or migration writes, since a restore makes the devices from it.
 * Throws ControlError for a change a spec cannot say (Dynamic Memory removed).
 */
export function specNow(spec: PartitionSpec, m: Machine, hot: HotDisks): PartitionSpec {
  const bus = m.vmbus;
  if (!bus?.hotplugged) return spec;
  const on = new Set(bus.deviceList.map((d) => d.instanceId));
  const diskSlots = vmbusSlots(spec.disks.filter((d) => d.if === 'vmbus'));
  let j = 0;
  const disks = spec.disks.flatMap((d) => {
    if (d.if !== 'vmbus') return [d];
    const n = diskSlots[j++]!;
    return on.has(storvscInstanceId(n)) ? [{ ...d, slot: n }] : [];
  });
  for (const [device, h] of hot.byDevice) if (on.has(device.instanceId)) disks.push(h.spec);
  const nicSlots = vmbusSlots(spec.nics ?? []);
  const nics: NicSpec[] = (spec.nics ?? []).flatMap((nic, i) => (on.has(netvscInstanceId(nicSlots[i]!)) ? [{ ...nic, slot: nicSlots[i]! }] : []));
  for (const [device, nic] of hot.nics) if (on.has(device.instanceId)) nics.push(nic);
  const services = new Set(bus.deviceList.map((d) => (d as { service?: unknown }).service));
  const ic = spec.vmbus?.ic?.filter((name) => services.has(name));
  if (spec.overcommit?.dynamicMemory && !bus.deviceList.some((d) => d instanceof DynamicMemoryDevice)) {
    throw new ControlError(`partition ${spec.name}: its Dynamic Memory device was removed, which its saved spec cannot say (overcommit.dynamicMemory)`);
  }
  return {
    ...spec,
    disks,
    ...(nics.length || spec.nics ? { nics } : {}),
    ...(spec.vmbus ? { vmbus: { ...spec.vmbus, ic, ...(ic?.includes('kvp') ? {} : { kvp: undefined }) } } : {}),
  };
}

/** The hot-added disks' images (flushed with the partition's own before a save). */
export const hotBlocks = (hot: HotDisks): BlockDevice[] => [...hot.byDevice.values()].map((h) => h.disk);

/** Machine `m`'s VMBus; a ControlError when it has none. */
function vmbusOf(m: Machine, name: string): VmbusHost {
  if (!m.vmbus) throw new ControlError(`partition ${name} has no VMBus (an enlightened partition with VMBus devices has)`);
  return m.vmbus;
}

/** The images partition `spec` and its hot disks hold open, resolved. */
export function openImages(spec: PartitionSpec, hot: HotDisks): { path: string; readonly: boolean }[] {
  return [...spec.disks, ...[...hot.byDevice.values()].map((h) => h.spec)].map((d) => ({ path: resolve(d.path), readonly: d.readonly === true }));
}

/**
 * Opens image `disk` and offers it to machine `m`'s guest as a synthetic
 * SCSI disk; returns its relid. `inUse` lists the images already open on
 * this host: one writer per image (a VHD's metadata has one owner), so a
 * writable image that is open anywhere, or any image open writable, is
 * refused. Throws ControlError (no VMBus, image in use) or InputError (the
 * image cannot be opened).
 */
export function hotAddDisk(m: Machine, name: string, hot: HotDisks, disk: DiskSpec, inUse: readonly { path: string; readonly: boolean }[]): number {
  const vmbus = vmbusOf(m, name);
  const path = resolve(disk.path);
  const clash = inUse.find((u) => u.path === path && !(u.readonly && disk.readonly));
  if (clash) throw new ControlError(`partition ${name}: image '${disk.path}' is already open${clash.readonly ? ' read-only' : ''} on this host`);
  const block = new SwitchableDevice(openDrive(disk)); // its back end changes hands with an endpoint worker (endpoint-server.ts)
  // Past the spec's VMBus disks' ids, and never one an earlier hot disk had:
  // a guest that has not released the old relid yet must not see it again.
  const specDisks = m.config.vmbus?.filter((d) => d instanceof StorvscDevice).length ?? 0;
  const slot = freeSlot(m, specDisks + hot.added, storvscInstanceId);
  const device = new StorvscDevice(block, { instanceId: storvscInstanceId(slot) });
  hot.added = slot - specDisks + 1;
  hot.byDevice.set(device, { disk: block, spec: { ...disk, if: 'vmbus', slot } });
  return vmbus.addDevice(device);
}

/**
 * Adds a synthetic NIC to machine `m`'s guest: a new port of the host's
 * virtual switch `sw`, named `name/index` after the spec's NICs and those
 * added before, with MAC `nic.mac` or one made from the name and index (as
 * the spec's are), offered at once if the guest's VMBus client is
 * connected. Returns its relid. Throws ControlError: no VMBus, as many
 * NICs on its bus as a spec may name (LIMITS.nics), a MAC that is not
 * unicast, or one a port of the switch already has (the switch learns by
 * MAC: two ports with one would take each other's frames).
 */
export function hotAddNic(m: Machine, name: string, hot: HotDisks, sw: VirtualSwitch, nic: NicSpec | undefined): number {
  const vmbus = vmbusOf(m, name);
  const nics = vmbus.deviceList.filter((d) => d instanceof NetvscDevice).length;
  if (nics >= LIMITS.nics) throw new ControlError(`partition ${name} has ${nics} NICs, the most a partition has`);
  const specNics = m.config.vmbus?.filter((d) => d instanceof NetvscDevice).length ?? 0;
  const index = freeSlot(m, specNics + hot.nicsAdded, netvscInstanceId);
  // From another thread or a socket: whatever came, checked.
  const given: unknown = nic?.mac;
  const mac = given === undefined ? generatedMac(name, index) : typeof given === 'string' ? parseMac(given) : undefined;
  if (!mac) throw new ControlError(`partition ${name}: NIC MAC ${JSON.stringify(given)} is not a unicast MAC like "52:54:00:12:34:56"`);
  const taken = sw.list().find((p) => p.mac === formatMac(mac));
  if (taken) throw new ControlError(`partition ${name}: MAC ${formatMac(mac)} is already switch port ${taken.name}'s`);
  hot.nicsAdded = index - specNics + 1;
  const device = new NetvscDevice(sw, { instanceId: netvscInstanceId(index), mac, name: `${name}/${index}` });
  hot.nics.set(device, { mac: formatMac(mac), slot: index });
  return vmbus.addDevice(device);
}

/** Removes channel `relid` from machine `m`'s VMBus (rescinds it); a disk added by hotAddDisk is flushed and closed, a NIC leaves the switch. */
export function hotRemove(m: Machine, name: string, hot: HotDisks, relid: number): void {
  const device = m.vmbus?.removeDevice(relid);
  if (!device) throw new ControlError(`partition ${name} has no VMBus channel ${relid} to remove`);
  hot.byDevice.get(device)?.disk.close();
  hot.byDevice.delete(device);
  hot.nics.delete(device);
}

/** The partition is done: its hot-added disks are closed. */
export function closeHotDisks(hot: HotDisks): void {
  for (const h of hot.byDevice.values()) h.disk.close();
  hot.byDevice.clear();
  hot.nics.clear();
}
