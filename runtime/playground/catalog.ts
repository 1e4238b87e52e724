// What the page can boot, as the server describes it (/catalog.json,
// runtime/cli/playground.ts), and how a choice becomes a PartitionSpec
// whose images are in the root thread's file store.
import type { Remote } from 'comlink';
import type { FileStore } from '../platform/browser.ts';
import { DEFAULT_SCHED, IC_NAMES, type DiskSpec, type PagingMode, type PartitionSpec } from '../host/spec.ts';

export interface Catalog {
  /** Our guest ELFs, by URL relative to the page; enlightened ones boot with the hypervisor as SBI firmware. */
  guests: { name: string; url: string; enlightened: boolean }[];
  /** Debian's OpenSBI (fw_jump) and U-Boot (S-mode) images, when installed. */
  opensbi?: string;
  uboot?: string;
  /** The local Linux build's Image, when built (guests/linux/build.sh). */
  linux?: string;
}

/** The form's choices. */
export interface Choice {
  name: string;
  /** 'guest:<name>', 'uboot', 'linux' or 'file' (the user's kernel). */
  what: string;
  kernelFile?: File;
  diskFile?: File;
  /** A blank raw disk of this many MiB when no disk file is given (0: none). */
  blankDiskMiB: number;
  /** How the guest reaches its disk: virtio-blk, or a synthetic SCSI disk on VMBus (enlightened guests). */
  diskIf: NonNullable<DiskSpec['if']>;
  /** Offer every integration component on VMBus (enlightened guests). */
  ics: boolean;
  /** Demand-allocated RAM and page sharing (docs/memory.md; nested or shadow paging), with the partitions of the same salt. */
  overcommit: boolean;
  salt: number;
  /** With overcommit, the guest's balloon: virtio-balloon, Hyper-V Dynamic Memory on VMBus (enlightened guests), or none. */
  balloon: 'virtio' | 'dm' | 'none';
  /** With overcommit, hypervisor swap to a file in the root's in-memory store (evicts when the host runs short of frames). */
  swap: boolean;
  paging: PagingMode;
  vcpus: number;
  memoryMiB: number;
  weight: number;
  cap: number;
  reservation: number;
  append?: string;
  /** For the user's kernel: with the hypervisor as SBI firmware (else bare, M-mode, or after OpenSBI). */
  boot: 'bare' | 'enlightened' | 'opensbi';
}

/**
 * Form values a boot choice brings with it: what the guest needs to show
 * what it is for. The vmbus-dm guest is the memory pressure lab's: a
 * Dynamic Memory balloon on demand-allocated RAM, waiting for the host to
 * balloon it (guests/README.md); Linux wants more RAM than our guests.
 */
export const PRESETS: Record<string, Partial<Pick<Choice, 'memoryMiB' | 'paging' | 'overcommit' | 'balloon'>>> = {
  'guest:enlightened/vmbus-dm': { memoryMiB: 32, paging: 'nested', overcommit: true, balloon: 'dm' },
  linux: { memoryMiB: 256 },
  uboot: { memoryMiB: 256 },
};

/** The memory pressure lab's guests: overcommit partitions with a balloon, started several at a time. */
export interface LabGuest {
  label: string;
  /** The boot choice (a PRESETS key or like it) and what the lab sets beside its preset. */
  what: string;
  prefix: string;
  choice?: Partial<Choice>;
}

export function labGuests(catalog: Catalog): LabGuest[] {
  const guests: LabGuest[] = [];
  if (catalog.guests.some((g) => g.name === 'enlightened/vmbus-dm')) {
    guests.push({ label: 'vmbus-dm: Dynamic Memory, 32 MiB', what: 'guest:enlightened/vmbus-dm', prefix: 'dm' });
  }
  if (catalog.linux) {
    guests.push({ label: 'Linux: virtio-balloon, 128 MiB', what: 'linux', prefix: 'linux', choice: { memoryMiB: 128, paging: 'nested', overcommit: true, balloon: 'virtio' } });
  }
  return guests;
}

/** A choice with the form's defaults, `what`'s preset and `over` on top. */
export function choiceFor(name: string, what: string, over: Partial<Choice> = {}): Choice {
  return {
    name, what, blankDiskMiB: 0, diskIf: 'virtio', ics: false, overcommit: false, salt: 0, balloon: 'virtio', swap: false,
    paging: 'direct', vcpus: 1, memoryMiB: 64, weight: DEFAULT_SCHED.weight, cap: 0, reservation: 0, boot: 'bare',
    ...PRESETS[what], ...over,
  };
}

export async function loadCatalog(): Promise<Catalog> {
  const r = await fetch('catalog.json').catch(() => undefined);
  return r?.ok ? ((await r.json()) as Catalog) : { guests: [] };
}

/** Puts the images a choice needs into the root's file store and returns its spec and disk paths. */
export async function prepare(c: Choice, catalog: Catalog, files: Remote<FileStore>): Promise<{ spec: PartitionSpec; disks: string[] }> {
  const fetched = async (url: string): Promise<string> => {
    const path = '/srv/' + url;
    const r = await fetch(url);
    if (!r.ok) throw new Error(`cannot fetch ${url}: ${r.status}`);
    await files.put(path, new Uint8Array(await r.arrayBuffer()));
    return path;
  };
  const picked = async (f: File, dir: string): Promise<string> => {
    const path = `/${dir}/${c.name}-${f.name}`;
    await files.put(path, new Uint8Array(await f.arrayBuffer()));
    return path;
  };
  const spec: PartitionSpec = {
    name: c.name, memory: c.memoryMiB << 20, vcpus: c.vcpus, paging: c.paging, boot: 'firmware', disks: [],
    sched: { ...DEFAULT_SCHED, weight: c.weight, cap: c.cap, reservation: c.reservation },
  };
  if (c.append) spec.append = c.append;
  if (c.ics) spec.vmbus = { ic: [...IC_NAMES] };
  if (c.overcommit) {
    spec.overcommit = { salt: c.salt };
    if (c.balloon === 'virtio') spec.overcommit.balloon = true;
    if (c.balloon === 'dm') spec.overcommit.dynamicMemory = true;
    if (c.swap) spec.overcommit.swap = { dir: '/swap' };
  }
  const needs = (url: string | undefined, what: string): string => {
    if (!url) throw new Error(`${what} is not available from this server`);
    return url;
  };
  if (c.what.startsWith('guest:')) {
    const g = catalog.guests.find((x) => x.name === c.what.slice(6));
    if (!g) throw new Error(`no guest ${c.what.slice(6)}`);
    spec.kernel = await fetched(g.url);
    if (g.enlightened) spec.boot = 'enlightened';
  } else if (c.what === 'uboot') {
    spec.bios = await fetched(needs(catalog.opensbi, 'OpenSBI'));
    spec.kernel = await fetched(needs(catalog.uboot, 'U-Boot'));
  } else if (c.what === 'linux') {
    spec.kernel = await fetched(needs(catalog.linux, 'the Linux build'));
    spec.boot = 'enlightened';
  } else {
    if (!c.kernelFile) throw new Error('pick a kernel file (or drop one on the page)');
    spec.kernel = await picked(c.kernelFile, 'user');
    if (c.boot === 'enlightened') spec.boot = 'enlightened';
    if (c.boot === 'opensbi') spec.bios = await fetched(needs(catalog.opensbi, 'OpenSBI'));
  }
  if (c.diskFile) {
    spec.disks.push({ path: await picked(c.diskFile, 'disks'), if: c.diskIf });
  } else if (c.blankDiskMiB > 0) {
    const path = `/disks/${c.name}.img`;
    await files.put(path, new Uint8Array(c.blankDiskMiB << 20));
    spec.disks.push({ path, format: 'raw', if: c.diskIf });
  }
  return { spec, disks: spec.disks.map((d) => d.path) };
}
