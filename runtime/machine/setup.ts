// A partition from its spec (runtime/host/spec.ts): open its disks, build
// the Machine, load firmware, kernel and initrd where QEMU would, place the
// device tree and reset the harts. One path for `hv run`, VM configs and the
// root partition's worker.
import { DM_INSTANCE_ID, DynamicMemoryDevice } from '../../drivers/vmbus/dm.ts';
import { MEMMAP } from '../../drivers/board/memmap.ts';
import type { BlockDevice } from '../../drivers/block/device.ts';
import { SwitchableDevice } from '../../drivers/block/switchable.ts';
import { InputError } from '../errors.ts';
import type { Hypervisor } from '../host/hypervisor.ts';
import { checkPartition, vmbusSlots, type IcName, type PartitionSpec } from '../host/spec.ts';
import { parseElf } from '../loader/elf.ts';
import { readBounded } from '../loader/input.ts';
import type { ClockMode } from './clock.ts';
import { openDrive } from './drives.ts';
import { StorvscDevice, storvscInstanceId } from '../../drivers/vmbus/storvsc.ts';
import { Machine } from './machine.ts';
import { overcommitOverhead } from './overcommit.ts';
import type { VmbusDevice } from '../../drivers/vmbus/channel-manager.ts';
import { NetvscDevice, netvscInstanceId } from '../../drivers/vmbus/netvsc.ts';
import { icDevices, integrationServices } from '../../drivers/vmbus/ic-services.ts';
import { VirtualSwitch, generatedMac, parseMac } from '../../drivers/net/vswitch.ts';

/**
 * The virtual switch of the partitions on `hv`: one per host thread that
 * services exits (the root partition's worker, or the deterministic host),
 * so every NIC on it is serviced by the thread that forwards its frames.
 */
const switches = new WeakMap<Hypervisor, VirtualSwitch>();
export function hostSwitch(hv: Hypervisor): VirtualSwitch {
  let sw = switches.get(hv);
  if (!sw) switches.set(hv, (sw = new VirtualSwitch((line) => console.warn(`hv: ${line}`))));
  return sw;
}

const RAM_BASE: number = MEMMAP.dram.base;
const KERNEL_OFFSET = 0x20_0000; // QEMU loads -kernel 2 MiB above the firmware on RV64

export function isElf(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
}

/** The largest ELF file read: it may hold more than it loads (symbols, debug sections), but not without end. */
export const MAX_ELF_BYTES = 1 << 30;

/**
 * Reads an image to load at guest-physical `addr` of a partition with
 * `ramSize` bytes of RAM: raw bytes up to what fits from there to the end
 * of RAM, an ELF up to MAX_ELF_BYTES (its segments are checked when loaded).
 */
export function readImage(path: string, what: string, ramSize: number, addr: number): Uint8Array {
  const fits = Math.max(0, RAM_BASE + ramSize - addr);
  return readBounded(path, what, fits, (head) => (isElf(head) ? Math.max(fits, MAX_ELF_BYTES) : fits));
}

/** Reads a whole input file (up to `maxBytes`); InputError if it cannot be read or is larger. */
export function readInput(path: string, what: string, maxBytes = MAX_ELF_BYTES): Uint8Array {
  return readBounded(path, what, maxBytes);
}

export interface SetupOptions {
  onConsole: (bytes: Uint8Array) => void;
  clock?: ClockMode;
  /** The vCPUs run on other threads (MachineConfig.exits). */
  exits?: boolean;
  /** RAM already in host frames (MachineConfig.ramHost). */
  ramHost?: number;
}

/** Host memory a partition of this spec needs (guest RAM and second-stage structures). */
export function specHostBytes(spec: Pick<PartitionSpec, 'memory' | 'vcpus' | 'paging' | 'overcommit'>): number {
  return Machine.hostBytes({ ramSize: spec.memory, harts: spec.vcpus, paging: spec.paging, overcommit: spec.overcommit, onConsole: () => {} });
}

/**
 * The frame pool for `specs` on one host. With a cap (`hostMemory`,
 * --host-memory): the cap, plus page sharing's metadata for it when a
 * partition overcommits; overcommit partitions' RAM comes out of it page by
 * page. Without one: enough for every partition's RAM and tables.
 */
export function hostPoolBytes(specs: readonly PartitionSpec[], hostMemory?: number): number {
  if (hostMemory === undefined) return specs.reduce((n, s) => n + specHostBytes(s), 0);
  return hostMemory + (specs.some((s) => s.overcommit) ? overcommitOverhead(hostMemory) : 0);
}

/**
 * Creates partition `spec` on `hv`, loaded and reset, ready to run. Its
 * disks are open (close them with closeDisks when the partition is done).
 * Throws InputError for unreadable or malformed images.
 */
export function setupPartition(spec: PartitionSpec, hv: Hypervisor, options: SetupOptions): { machine: Machine; disks: BlockDevice[] } {
  const p = createPartition(spec, hv, options);
  try {
    boot(p.machine, spec);
  } catch (e) {
    closeDisks(p.disks);
    throw e;
  }
  return p;
}

/**
 * Creates partition `spec` on `hv` with its disks open, without loading
 * anything into it (setupPartition boots it; a restore loads saved state).
 */
export function createPartition(spec: PartitionSpec, hv: Hypervisor, options: SetupOptions): { machine: Machine; disks: BlockDevice[] } {
  checkPartition(spec); // a spec from the control plane may not have come through a front end's checks
  const disks: BlockDevice[] = [];
  try {
    // Switchable: a live snapshot or a storage migration moves the guest to another image.
    for (const d of spec.disks) disks.push(new SwitchableDevice(openDrive(d)));
    const onVmbus = (i: number) => spec.disks[i]!.if === 'vmbus';
    // Instance numbers: each's slot (a restored partition's hot-added devices keep theirs) or its place.
    const diskSlots = vmbusSlots(spec.disks.filter((_, i) => onVmbus(i)));
    const synthetic: VmbusDevice[] = disks.filter((_, i) => onVmbus(i)).map((d, j) => new StorvscDevice(d, { instanceId: storvscInstanceId(diskSlots[j]!) }));
    const nicSlots = vmbusSlots(spec.nics ?? []);
    (spec.nics ?? []).forEach((nic, j) => {
      const n = nicSlots[j]!;
      const mac = nic.mac === undefined ? generatedMac(spec.name, n) : parseMac(nic.mac)!; // checkPartition checked it
      synthetic.push(new NetvscDevice(hostSwitch(hv), { instanceId: netvscInstanceId(n), mac, name: `${spec.name}/${n}` }));
    });
    synthetic.push(...specIcs(spec));
    const dm = spec.overcommit?.dynamicMemory ? new DynamicMemoryDevice() : undefined;
    if (dm) synthetic.push(dm);
    const machine = new Machine(
      {
        ramSize: spec.memory,
        harts: spec.vcpus,
        paging: spec.paging,
        bootargs: spec.append,
        drives: disks.filter((_, i) => !onVmbus(i)),
        vmbus: synthetic.length ? synthetic : undefined,
        ramHost: options.ramHost,
        clock: options.clock,
        exits: options.exits,
        onConsole: options.onConsole,
        overcommit: spec.overcommit,
        // A reboot loads the images again from their files, as QEMU reloads its ROMs.
        reboot: spec.reboot === false ? undefined : (m) => boot(m, spec),
      },
      hv,
    );
    if (dm) machine.overcommit!.attachDynamicMemory(dm);
    return { machine, disks };
  } catch (e) {
    closeDisks(disks);
    throw e;
  }
}

/**
 * The instance ids of the VMBus devices `spec` makes (createPartition):
 * a save checks that its spec names the bus as it is (hot add and remove
 * change it), since the restore makes the devices from the spec.
 */
export function specVmbusIds(spec: PartitionSpec): string[] {
  return [
    ...vmbusSlots(spec.disks.filter((d) => d.if === 'vmbus')).map(storvscInstanceId),
    ...vmbusSlots(spec.nics ?? []).map(netvscInstanceId),
    ...specIcs(spec).map((d) => d.instanceId),
    ...(spec.overcommit?.dynamicMemory ? [DM_INSTANCE_ID] : []),
  ];
}

/** The integration components `spec.vmbus.ic` asks for, in Hyper-V's offer order. */
function specIcs(spec: PartitionSpec): VmbusDevice[] {
  const wanted = spec.vmbus?.ic ?? [];
  const ics = integrationServices({ kvp: { push: spec.vmbus?.kvp } });
  return icDevices(ics).filter((d) => wanted.includes(d.service as IcName));
}

export function closeDisks(disks: readonly BlockDevice[]): void {
  for (const d of disks) d.close();
}

function boot(machine: Machine, spec: PartitionSpec): void {
  /** Loads an ELF where its headers say, or raw bytes at `rawAddr`; returns its entry and load address. */
  const load = (path: string, what: string, rawAddr: number): { entry: bigint; addr: number } => {
    const bytes = readImage(path, what, spec.memory, rawAddr);
    if (bytes.length === 0) throw new InputError(`${what} '${path}' is empty: there is nothing to run`);
    if (isElf(bytes)) {
      const entry = machine.loadElf(parseElf(bytes));
      return { entry, addr: Number(entry) };
    }
    machine.loadRaw(bytes, rawAddr, what);
    return { entry: BigInt(rawAddr), addr: rawAddr };
  };
  const enlightened = spec.boot === 'enlightened';
  if (spec.kernel === undefined && (enlightened || spec.bios === undefined)) throw new InputError(`partition ${spec.name}: no kernel given`);
  let entry: bigint;
  let kernelAddr = RAM_BASE;
  if (enlightened) {
    ({ entry, addr: kernelAddr } = load(spec.kernel!, 'kernel', RAM_BASE + KERNEL_OFFSET));
  } else if (spec.bios !== undefined) {
    load(spec.bios, 'firmware', RAM_BASE);
    entry = BigInt(RAM_BASE); // QEMU starts every hart at the firmware's base
    if (spec.kernel !== undefined) kernelAddr = load(spec.kernel, 'kernel', RAM_BASE + KERNEL_OFFSET).addr;
  } else {
    entry = load(spec.kernel!, 'kernel', RAM_BASE).entry;
  }
  const initrd = spec.initrd === undefined ? undefined : machine.loadInitrd(readImage(spec.initrd, 'initrd', spec.memory, machine.initrdAddress(kernelAddr)), kernelAddr);
  const dtb = machine.placeDtb(initrd);
  if (enlightened) machine.bootEnlightened(entry, dtb);
  else machine.boot(entry, dtb);
}
