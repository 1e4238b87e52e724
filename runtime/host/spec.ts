// What a partition is made of, as the control plane (HostController), the
// JSON VM config (`hv run --config vm.json`) and the CLI describe it, and the
// one set of rules every description must keep (checkPartition, checkHost):
// the config reader and the command line both build a PartitionSpec and
// hand it here, so the two cannot disagree. Plain data: it crosses threads
// (structured clone) unchanged.
import { formatSize } from '../../drivers/board/size.ts';
import { MEMMAP } from '../../drivers/board/memmap.ts';
import { InputError } from '../errors.ts';
import { parseMac } from '../../drivers/net/vswitch.ts';
import { HOST_KERNEL_BYTES, partitionOverhead } from './hypervisor.ts';
import type { PagingMode } from '../machine/machine.ts';

export type { PagingMode };

/** A virtio-blk disk. */
export interface DiskSpec {
  /** Image file (a path; the root partition's worker opens it). */
  path: string;
  /** 'raw', 'vpc' (VHD), or undefined to probe (a VHD footer means vpc). */
  format?: 'raw' | 'vpc';
  readonly?: boolean;
  /**
   * How the guest reaches it: 'virtio' (default) a virtio-blk disk in the
   * next virtio-mmio slot; 'vmbus' a synthetic SCSI disk offered on VMBus
   * (drivers/vmbus/storvsc.ts; enlightened partitions only).
   */
  if?: 'virtio' | 'vmbus';
  /**
   * A VMBus disk's instance number (its offer's instance GUID); default: its
   * place among the spec's VMBus disks. A save of a partition whose disks
   * were hot-added or removed writes it, so the restored guest is offered
   * the ids it had (runtime/host/vmbus-hotplug.ts, specNow).
   */
  slot?: number;
}

/** Credit-scheduler parameters (docs/scheduler.md). */
export interface SchedSpec {
  /** Relative share, 1..65535 (default 256). */
  weight: number;
  /** Upper bound in percent of one pCPU (0 = none). */
  cap: number;
  /** Guaranteed share in percent of one pCPU (0 = none; at most cap when capped). */
  reservation: number;
}

export interface PartitionSpec {
  /** Shown in consoles and listings; unique within a host. */
  name: string;
  /** Guest RAM in bytes (a positive multiple of 4 KiB). */
  memory: number;
  /** vCPUs (harts), 1..64. */
  vcpus: number;
  paging: PagingMode;
  /**
   * firmware: every hart starts in M-mode at 0x8000_0000 with the emulated
   * board (the partition brings its own firmware, or the kernel runs bare in
   * M-mode). enlightened: the hypervisor is the SBI firmware; hart 0 starts
   * the kernel in S-mode, the others through SBI HSM.
   */
  boot: 'firmware' | 'enlightened';
  /** Firmware image loaded at 0x8000_0000 (firmware boot only); absent: the kernel runs bare. */
  bios?: string;
  /**
   * Kernel image: an ELF at its own addresses, or raw bytes (at 0x8020_0000
   * after firmware or when enlightened). Required unless `bios` is given.
   */
  kernel?: string;
  /** Kernel command line (device tree /chosen/bootargs). */
  append?: string;
  /** Initial ramdisk. */
  initrd?: string;
  disks: DiskSpec[];
  sched: SchedSpec;
  /**
   * A reset the guest asks for (SBI SRST, the test finisher) reboots the
   * partition, as QEMU does (default); false ends its run instead (QEMU's -no-reboot).
   */
  reboot?: boolean;
  /**
   * Memory overcommit (docs/memory.md): page sharing with the partitions of
   * the same salt (absent or 0: none but itself) and, with balloon, a
   * virtio-balloon device, or with dynamicMemory Hyper-V Dynamic Memory on
   * VMBus (enlightened partitions); with swap, hypervisor swap to a file
   * created in swap.dir (removed at the partition's end), evicting when the
   * host's free frames fall below swap.lowWatermark, holding at most
   * swap.maxBytes. Nested or shadow paging only.
   */
  overcommit?: { salt?: number; balloon?: boolean; dynamicMemory?: boolean; balloonTarget?: number; swap?: { dir: string; lowWatermark?: number; maxBytes?: number } };
  /** Synthetic NICs on VMBus, each a port of the host's virtual switch (enlightened partitions only). */
  nics?: NicSpec[];
  /** Integration components on VMBus (enlightened partitions only). */
  vmbus?: VmbusSpec;
}

/** The integration components (drivers/vmbus/ic*.ts) a partition can be offered. */
export const IC_NAMES = ['heartbeat', 'shutdown', 'timesync', 'kvp'] as const;
export type IcName = (typeof IC_NAMES)[number];

/** A partition's VMBus services beside its disks and NICs. */
export interface VmbusSpec {
  /** Integration components to offer, each at most once (Hyper-V offers all four). */
  ic?: IcName[];
  /** With 'kvp': keys pushed into the guest's external pool as soon as it negotiated (HostController.kvpWrite adds more). */
  kvp?: Record<string, string>;
}

/** A synthetic NIC (drivers/vmbus/netvsc.ts) on the host's virtual switch (drivers/net/vswitch.ts). */
export interface NicSpec {
  /** "52:54:00:12:34:56"; absent: 00:15:5d and three bytes from the partition's name and the NIC's index, the same every run. */
  mac?: string;
  /** Its instance number (instance GUID and switch port `name/slot`); default: its place in `nics`. As a disk's `slot`. */
  slot?: number;
}

/** Instance numbers of VMBus devices listed in order: each's `slot`, or its place. */
export const vmbusSlots = (list: readonly { slot?: number }[]): number[] => list.map((d, i) => d.slot ?? i);

export const DEFAULT_SCHED: SchedSpec = { weight: 256, cap: 0, reservation: 0 };

/**
 * A partition running `kernel` with the defaults of `hv run` (128 MiB, one
 * vCPU, direct paging, firmware boot without firmware, no disks, weight 256),
 * with `more` on top.
 */
export function partitionSpec(name: string, kernel: string, more: Partial<PartitionSpec> = {}): PartitionSpec {
  return { name, kernel, memory: 128 << 20, vcpus: 1, paging: 'direct', boot: 'firmware', disks: [], sched: DEFAULT_SCHED, ...more };
}

/** A whole host: its physical CPUs and the partitions to create at start. */
export interface HostSpec {
  /** pCPU worker threads (default: the machine's parallelism). */
  pcpus?: number;
  /**
   * The host memory cap (bytes): the frame pool for partitions is this
   * (plus page sharing's metadata), and overcommit partitions do not
   * reserve their RAM in it; a partition whose fixed needs do not fit is
   * refused (docs/memory.md). Default: enough for every partition's RAM.
   */
  hostMemory?: number;
  partitions: PartitionSpec[];
}

// ---- the rules ---------------------------------------------------------------

/** The largest values a spec may hold (docs/architecture.md, "Resource bounds"). */
export const LIMITS = {
  pcpus: 64,
  /** The kernel's partition table and vCPU array (kernel/layout.ts MAX_PARTITIONS, MAX_VCPUS). */
  partitions: 1024,
  hostVcpus: 1024,
  vcpus: 64,
  /** One virtio-mmio slot each. */
  disks: MEMMAP.virtio.count,
  /** Synthetic disks on VMBus: a channel each. */
  vmbusDisks: 16,
  /** Synthetic NICs: a channel and a switch port each. */
  nics: 8,
  /** Keys a spec pushes into the guest's KVP pool (the guest's daemon keeps a few hundred). */
  kvpKeys: 64,
  /** Guest RAM: at least 64 KiB (the device tree and a small image), a multiple of 4 KiB. */
  minMemory: 64 << 10,
  /**
   * Host memory is one wasm32 memory, 4 GiB in all: the kernel's regions,
   * every partition's RAM and second-stage structures, and 4 MiB of slack
   * for the threaded host's shadow-table pool.
   */
  hostMemory: 2 ** 32 - HOST_KERNEL_BYTES - (4 << 20),
  /** Kernel command line bytes (the device tree's /chosen/bootargs). */
  append: 4096,
  weight: 65535,
  /** cap and reservation: percent of one pCPU. */
  percent: 100 * 64,
} as const;

const NAME = /^[A-Za-z0-9_.#-]{1,32}$/;
const PAGING: readonly PagingMode[] = ['direct', 'nested', 'shadow'];
const BOOT = ['firmware', 'enlightened'] as const;
const FORMAT = ['raw', 'vpc'] as const;
const DISK_IF = ['virtio', 'vmbus'] as const;
/** The disks that take a virtio-mmio slot. */
export const virtioDisks = (disks: readonly DiskSpec[]): DiskSpec[] => disks.filter((d) => d.if !== 'vmbus');
const MiB = 1 << 20;

/**
 * A spec that breaks a rule. `path` names the field as a JSON path inside
 * the spec ('memory', 'disks[1].path', 'sched.cap'; for a host,
 * 'partitions[0].memory'), so each front end can say it its own way.
 */
export class SpecError extends InputError {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'SpecError';
  }
}

/** Host memory a partition needs: its RAM and its second-stage structures. */
export function partitionHostBytes(memory: number, paging: PagingMode): number {
  return memory + partitionOverhead(memory, paging);
}

/** The most RAM one partition may have with `paging` (whole MiB). */
export function maxMemory(paging: PagingMode): number {
  let m = Math.floor(LIMITS.hostMemory / MiB) * MiB;
  while (partitionHostBytes(m, paging) > LIMITS.hostMemory) m -= MiB;
  return m;
}

/** A value as an error message shows it (JSON, but numbers JSON cannot spell as themselves). */
export function show(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object' && v !== null) return 'an object';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (v === undefined) return 'nothing';
  return JSON.stringify(v);
}

/**
 * Checks a partition spec against every rule; throws SpecError naming the
 * first field that breaks one. The spec may come from JSON or another
 * thread, so every field's type is checked too.
 */
export function checkPartition(spec: PartitionSpec): PartitionSpec {
  const s = spec as unknown as Record<string, unknown>;
  const fail = (path: string, problem: string): never => {
    throw new SpecError(path, problem);
  };
  if (typeof s.name !== 'string' || !NAME.test(s.name)) fail('name', `must be 1..32 of A-Z a-z 0-9 _ . - #, got ${show(s.name)}`);
  checkMemory(s.memory, (typeof s.paging === 'string' ? s.paging : 'direct') as PagingMode, fail);
  integer(s.vcpus, 'vcpus', 1, LIMITS.vcpus, fail);
  oneOf(s.paging, 'paging', PAGING, fail);
  oneOf(s.boot, 'boot', BOOT, fail);
  for (const key of ['bios', 'kernel', 'initrd'] as const) if (s[key] !== undefined) file(s[key], key, fail);
  if (s.bios !== undefined && s.boot !== 'firmware') fail('bios', `only allowed with boot "firmware" (this partition boots "${String(s.boot)}")`);
  if (s.kernel === undefined && (s.boot !== 'firmware' || s.bios === undefined)) fail('kernel', 'missing (required)');
  if (s.reboot !== undefined && typeof s.reboot !== 'boolean') fail('reboot', `must be true or false, got ${show(s.reboot)}`);
  if (s.append !== undefined) {
    if (typeof s.append !== 'string') fail('append', `must be a string, got ${show(s.append)}`);
    const append = s.append as string;
    if (append.includes('\0')) fail('append', 'must not contain a NUL character (the device tree stores it as a C string)');
    const bytes = new TextEncoder().encode(append).length; // UTF-8, as the device tree stores it
    if (bytes > LIMITS.append) fail('append', `must be at most ${LIMITS.append} bytes, got ${bytes}`);
  }
  if (!Array.isArray(s.disks)) fail('disks', `must be an array of at most ${LIMITS.disks} disks, got ${show(s.disks)}`);
  const onVmbus = (s.disks as unknown[]).filter((d) => (d as Record<string, unknown> | null)?.if === 'vmbus').length;
  if ((s.disks as unknown[]).length - onVmbus > LIMITS.disks) fail('disks', `at most ${LIMITS.disks} virtio disks (one per virtio-mmio slot), got ${(s.disks as unknown[]).length - onVmbus}`);
  if (onVmbus > LIMITS.vmbusDisks) fail('disks', `at most ${LIMITS.vmbusDisks} disks on VMBus, got ${onVmbus}`);
  (s.disks as unknown[]).forEach((d, i) => {
    const p = `disks[${i}]`;
    if (typeof d !== 'object' || d === null || Array.isArray(d)) fail(p, `must be an object, got ${show(d)}`);
    const disk = d as Record<string, unknown>;
    file(disk.path, `${p}.path`, fail);
    if (disk.format !== undefined) oneOf(disk.format, `${p}.format`, FORMAT, fail);
    if (disk.readonly !== undefined && typeof disk.readonly !== 'boolean') fail(`${p}.readonly`, `must be true or false, got ${show(disk.readonly)}`);
    if (disk.if !== undefined) oneOf(disk.if, `${p}.if`, DISK_IF, fail);
    if (disk.if === 'vmbus' && s.boot !== 'enlightened') fail(`${p}.if`, 'a disk on VMBus needs boot "enlightened" (the guest must speak VMBus)');
    if (disk.slot !== undefined && disk.if !== 'vmbus') fail(`${p}.slot`, 'only a disk on VMBus has a slot');
  });
  const vmbusAt = (s.disks as DiskSpec[]).flatMap((d, i) => (d.if === 'vmbus' ? [i] : []));
  checkSlots(vmbusAt.map((i) => (s.disks as DiskSpec[])[i]!), (j) => `disks[${vmbusAt[j]}]`, fail);
  if (s.nics !== undefined) checkNics(s.nics, s.boot, fail);
  if (s.vmbus !== undefined) checkVmbus(s.vmbus, s.boot, fail);
  if (s.overcommit !== undefined) {
    const o = s.overcommit as Record<string, unknown>;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) fail('overcommit', `must be an object, got ${show(o)}`);
    if (s.paging === 'direct') fail('overcommit', 'needs paging "nested" or "shadow": direct paging has no per-page map to share or balloon pages with');
    if (o.salt !== undefined) integer(o.salt, 'overcommit.salt', 0, 0x7fff_ffff, fail);
    if (o.balloon !== undefined && typeof o.balloon !== 'boolean') fail('overcommit.balloon', `must be true or false, got ${show(o.balloon)}`);
    if (o.dynamicMemory !== undefined && typeof o.dynamicMemory !== 'boolean') fail('overcommit.dynamicMemory', `must be true or false, got ${show(o.dynamicMemory)}`);
    if (o.dynamicMemory && s.boot !== 'enlightened') fail('overcommit.dynamicMemory', 'needs boot "enlightened" (the guest must speak VMBus)');
    if (o.dynamicMemory && o.balloon) fail('overcommit.dynamicMemory', 'a partition has one balloon: "balloon" (virtio) or "dynamicMemory", not both');
    if (o.balloonTarget !== undefined) {
      if (o.balloon !== true && o.dynamicMemory !== true) fail('overcommit.balloonTarget', 'needs "balloon": true or "dynamicMemory": true');
      integer(o.balloonTarget, 'overcommit.balloonTarget', 0, typeof s.memory === 'number' ? s.memory : 0, fail);
    }
    if (o.swap !== undefined) {
      const w = o.swap as Record<string, unknown>;
      if (typeof w !== 'object' || w === null || Array.isArray(w)) fail('overcommit.swap', `must be an object, got ${show(w)}`);
      if (typeof w.dir !== 'string' || w.dir === '') fail('overcommit.swap.dir', `must be the directory for the swap file, got ${show(w.dir)}`);
      if (w.lowWatermark !== undefined) integer(w.lowWatermark, 'overcommit.swap.lowWatermark', 0, 0x10_0000, fail);
      if (w.maxBytes !== undefined) integer(w.maxBytes, 'overcommit.swap.maxBytes', 0, 2 ** 52, fail);
    }
    const slots = Array.isArray(s.disks) ? virtioDisks(s.disks as DiskSpec[]).length : 0;
    if (o.balloon && slots >= LIMITS.disks) fail('overcommit.balloon', `the balloon takes a virtio-mmio slot: at most ${LIMITS.disks - 1} virtio disks with it`);
  }
  const sched = s.sched as Record<string, unknown>;
  if (typeof sched !== 'object' || sched === null || Array.isArray(sched)) fail('sched', `must be an object, got ${show(sched)}`);
  integer(sched.weight, 'sched.weight', 1, LIMITS.weight, fail);
  integer(sched.cap, 'sched.cap', 0, LIMITS.percent, fail);
  integer(sched.reservation, 'sched.reservation', 0, LIMITS.percent, fail);
  if (sched.cap !== 0 && (sched.reservation as number) > (sched.cap as number)) {
    fail('sched.reservation', `must be at most cap (${sched.cap}), got ${sched.reservation}`);
  }
  return spec;
}

/** Checks a whole host: its pCPUs, each partition (paths 'partitions[i]...'), unique names, and that all fit in host memory. */
export function checkHost(host: HostSpec): HostSpec {
  const fail = (path: string, problem: string): never => {
    throw new SpecError(path, problem);
  };
  if (host.pcpus !== undefined) integer(host.pcpus, 'pcpus', 1, LIMITS.pcpus, fail);
  if (host.hostMemory !== undefined) {
    integer(host.hostMemory, 'hostMemory', MiB, LIMITS.hostMemory, fail);
    if (host.hostMemory % 4096) fail('hostMemory', `must be a multiple of 4 KiB, got ${host.hostMemory}`);
  }
  const list = host.partitions as unknown;
  if (!Array.isArray(list) || list.length < 1 || list.length > LIMITS.partitions) {
    fail('partitions', `must be an array of 1..${LIMITS.partitions} partitions, got ${show(list)}`);
  }
  const seen = new Map<string, number>();
  const macs = new Map<string, string>();
  let bytes = 0;
  let vcpus = 0;
  host.partitions.forEach((p, i) => {
    try {
      checkPartition(p);
    } catch (e) {
      if (e instanceof SpecError) fail(`partitions[${i}].${e.path}`, e.problem);
      throw e;
    }
    p.nics?.forEach((n, j) => {
      const mac = n.mac?.toLowerCase().replace(/-/g, ':');
      if (mac === undefined) return;
      const other = macs.get(mac);
      if (other !== undefined) fail(`partitions[${i}].nics[${j}].mac`, `${n.mac} is also ${other}'s: two NICs on one switch need different MACs`);
      macs.set(mac, `partitions[${i}].nics[${j}]`);
    });
    const first = seen.get(p.name);
    if (first !== undefined) fail(`partitions[${i}].name`, `duplicate name "${p.name}" (also partitions[${first}])`);
    seen.set(p.name, i);
    bytes += partitionHostBytes(p.memory, p.paging);
    vcpus += p.vcpus;
  });
  if (vcpus > LIMITS.hostVcpus) fail('partitions', `have ${vcpus} vCPUs together, more than the ${LIMITS.hostVcpus} a host holds`);
  // With a cap, the partitions' needs are checked as each is created (admission control).
  if (host.hostMemory === undefined && bytes > LIMITS.hostMemory) {
    fail('partitions', `need ${formatSize(bytes)} of host memory together, more than the ${formatSize(LIMITS.hostMemory)} a wasm32 host has for partitions`);
  }
  return host;
}

function checkNics(nics: unknown, boot: unknown, fail: (path: string, problem: string) => never): void {
  if (!Array.isArray(nics) || nics.length > LIMITS.nics) fail('nics', `must be an array of at most ${LIMITS.nics} NICs, got ${show(nics)}`);
  const seen = new Map<string, number>();
  (nics as unknown[]).forEach((n, i) => {
    const p = `nics[${i}]`;
    if (typeof n !== 'object' || n === null || Array.isArray(n)) fail(p, `must be an object, got ${show(n)}`);
    if (boot !== 'enlightened') fail(p, 'a NIC on VMBus needs boot "enlightened" (the guest must speak VMBus)');
    const mac = (n as NicSpec).mac;
    if (mac === undefined) return;
    if (typeof mac !== 'string' || !parseMac(mac)) fail(`${p}.mac`, `must be a unicast MAC like "52:54:00:12:34:56", got ${show(mac)}`);
    const key = mac.toLowerCase().replace(/-/g, ':');
    if (seen.has(key)) fail(`${p}.mac`, `${mac} is also nics[${seen.get(key)}]'s`);
    seen.set(key, i);
  });
  checkSlots(nics as NicSpec[], (j) => `nics[${j}]`, fail);
}

/** Each device's `slot` is a whole number below 65536, and no two devices of a kind have one (given or by place). */
function checkSlots(list: readonly { slot?: unknown }[], path: (i: number) => string, fail: (path: string, problem: string) => never): void {
  list.forEach((d, i) => {
    if (d.slot !== undefined) integer(d.slot, `${path(i)}.slot`, 0, 0xffff, fail);
  });
  const slots = vmbusSlots(list as { slot?: number }[]);
  slots.forEach((n, i) => {
    const j = slots.indexOf(n);
    if (j !== i) fail(`${path(i)}.slot`, `${n} is also ${path(j)}'s`);
  });
}

function checkVmbus(v: unknown, boot: unknown, fail: (path: string, problem: string) => never): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('vmbus', `must be an object, got ${show(v)}`);
  if (boot !== 'enlightened') fail('vmbus', 'integration components need boot "enlightened" (the guest must speak VMBus)');
  const { ic, kvp } = v as VmbusSpec;
  if (ic !== undefined) {
    if (!Array.isArray(ic)) fail('vmbus.ic', `must be an array of ${IC_NAMES.join(', ')}, got ${show(ic)}`);
    ic.forEach((name, i) => {
      oneOf(name, `vmbus.ic[${i}]`, IC_NAMES, fail);
      if (ic.indexOf(name) !== i) fail(`vmbus.ic[${i}]`, `${name} is also vmbus.ic[${ic.indexOf(name)}]`);
    });
  }
  if (kvp !== undefined) {
    if (typeof kvp !== 'object' || kvp === null || Array.isArray(kvp)) fail('vmbus.kvp', `must be an object of string keys and values, got ${show(kvp)}`);
    if (!ic?.includes('kvp')) fail('vmbus.kvp', 'needs "kvp" in vmbus.ic');
    const entries = Object.entries(kvp);
    if (entries.length > LIMITS.kvpKeys) fail('vmbus.kvp', `at most ${LIMITS.kvpKeys} keys, got ${entries.length}`);
    for (const [key, value] of entries) {
      // The wire holds 512 and 2048 bytes of UTF-16 with the NUL (drivers/vmbus/ic-kvp.ts).
      if (key.length === 0 || key.length > 255) fail('vmbus.kvp', `a key is 1-255 characters, got ${show(key)}`);
      if (typeof value !== 'string' || value.length > 1023) fail(`vmbus.kvp.${key}`, `must be a string of at most 1023 characters, got ${show(value)}`);
    }
  }
}

function checkMemory(v: unknown, paging: PagingMode, fail: (path: string, problem: string) => never): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0 || v % 4096 !== 0) {
    fail('memory', `must be a positive multiple of 4 KiB, got ${typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? formatSize(v) : show(v)}`);
  }
  const bytes = v as number;
  if (bytes < LIMITS.minMemory) fail('memory', `must be at least ${formatSize(LIMITS.minMemory)}, got ${formatSize(bytes)}`);
  const max = PAGING.includes(paging) ? maxMemory(paging) : maxMemory('direct');
  if (bytes > max) {
    fail('memory', `must be at most ${formatSize(max)} with ${paging} paging (host memory is one wasm32 memory, 4 GiB in all), got ${formatSize(bytes)}`);
  }
}

function integer(v: unknown, path: string, lo: number, hi: number, fail: (path: string, problem: string) => never): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) fail(path, `must be an integer ${lo}..${hi}, got ${show(v)}`);
}

function oneOf(v: unknown, path: string, options: readonly string[], fail: (path: string, problem: string) => never): void {
  if (!options.includes(v as string)) fail(path, `must be one of ${options.join(', ')}, got ${show(v)}`);
}

function file(v: unknown, path: string, fail: (path: string, problem: string) => never): void {
  if (typeof v !== 'string' || v === '') fail(path, `must be a non-empty string (a file path), got ${show(v)}`);
  if ((v as string).includes('\0')) fail(path, 'must not contain a NUL character');
}
