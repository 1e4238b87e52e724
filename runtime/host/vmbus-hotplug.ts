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
import type { VmbusHost } from '../../drivers/vmbus/host.ts';
import { formatMac, generatedMac, parseMac, type VirtualSwitch } from '../../drivers/net/vswitch.ts';
import { openDrive } from '../machine/drives.ts';
import { SwitchableDevice } from '../../drivers/block/switchable.ts';
import type { Machine } from '../machine/machine.ts';
import { ControlError } from './controller.ts';
import { LIMITS, type DiskSpec, type NicSpec, type PartitionSpec } from './spec.ts';

/**
 * A partition's hot-added disks by device (a reboot gives channels new
 * relids), and how many disks and NICs it has had added (their instance
 * ids, and a NIC's port name and MAC, stay unique).
 */
export interface HotDisks {
  byDevice: Map<VmbusDevice, { disk: BlockDevice; spec: DiskSpec }>;
  added: number;
  nicsAdded: number;
}

export const noHotDisks = (): HotDisks => ({ byDevice: new Map(), added: 0, nicsAdded: 0 });

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
  const device = new StorvscDevice(block, { instanceId: storvscInstanceId(specDisks + hot.added) });
  hot.added++;
  hot.byDevice.set(device, { disk: block, spec: { ...disk, if: 'vmbus' } });
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
  const index = (m.config.vmbus?.filter((d) => d instanceof NetvscDevice).length ?? 0) + hot.nicsAdded;
  // From another thread or a socket: whatever came, checked.
  const given: unknown = nic?.mac;
  const mac = given === undefined ? generatedMac(name, index) : typeof given === 'string' ? parseMac(given) : undefined;
  if (!mac) throw new ControlError(`partition ${name}: NIC MAC ${JSON.stringify(given)} is not a unicast MAC like "52:54:00:12:34:56"`);
  const taken = sw.list().find((p) => p.mac === formatMac(mac));
  if (taken) throw new ControlError(`partition ${name}: MAC ${formatMac(mac)} is already switch port ${taken.name}'s`);
  hot.nicsAdded++;
  return vmbus.addDevice(new NetvscDevice(sw, { instanceId: netvscInstanceId(index), mac, name: `${name}/${index}` }));
}

/** Removes channel `relid` from machine `m`'s VMBus (rescinds it); a disk added by hotAddDisk is flushed and closed, a NIC leaves the switch. */
export function hotRemove(m: Machine, name: string, hot: HotDisks, relid: number): void {
  const device = m.vmbus?.removeDevice(relid);
  if (!device) throw new ControlError(`partition ${name} has no VMBus channel ${relid} to remove`);
  hot.byDevice.get(device)?.disk.close();
  hot.byDevice.delete(device);
}

/** The partition is done: its hot-added disks are closed. */
export function closeHotDisks(hot: HotDisks): void {
  for (const h of hot.byDevice.values()) h.disk.close();
  hot.byDevice.clear();
}
