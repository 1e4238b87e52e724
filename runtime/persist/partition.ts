// Save and restore of one partition (quick migration): the pieces of its
// state, each a versioned, checksummed record (record.ts), in one save file
// (container.ts) with its RAM (memory.ts) and its disks by reference
// (disks.ts). See docs/migration.md.
//
// The partition must be paused: no vCPU running, and (as device models are
// synchronous: a QueueNotify completes its requests before the write
// returns) no device request in flight. Restore checks everything (file,
// records, fields, disks, and every device record by loading it into a
// scratch board) before it writes anything into the new partition; a
// partition whose restore failed is never run.
import { resolve } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { createVirtBoard } from '../../drivers/board/virt.ts';
import { MEMMAP } from '../../drivers/board/memmap.ts';
import type { BlockDevice } from '../../drivers/block/device.ts';
import { RamGuestMemory } from '../../drivers/emulated/dma.ts';
import { DeviceStateError, type MmioDevice } from '../../drivers/emulated/device.ts';
import { virtioBlkFactory } from '../../drivers/emulated/virtio/blk.ts';
import { isVhd } from '../../drivers/vhd/chain.ts';
import type { Hypervisor } from '../host/hypervisor.ts';
import type { KernelInstance } from '../host/kernel.ts';
import { checkPartition, SpecError, type DiskSpec, type PartitionSpec } from '../host/spec.ts';
import type { ClockMode } from '../machine/clock.ts';
import type { Machine, MachineState } from '../machine/machine.ts';
import { closeDisks, createPartition, specVmbusIds, type SetupOptions } from '../machine/setup.ts';
import { FLAG_DEFLATED, readContainer, section, writeContainer } from './container.ts';
import { checkDiskRefs, diskRefs, DISKS_RECORD_VERSION, replaceDiskRefs } from './disks.ts';
import { PersistError } from './errors.ts';
import { decodeMemory, encodeMemory } from './memory.ts';
import { virtioBalloonFactory } from '../../drivers/emulated/virtio/balloon.ts';
import { decodeRecords, encodeRecords, jsonRecord, RecordSet, type StateRecord } from './record.ts';
import { checkVcpu, saveVcpu, type RamPlace } from './vcpu.ts';
import { type SavedVmbus, type VmbusHost, VmbusSaveError } from '../../drivers/vmbus/host.ts';

const RECORD = { meta: 1, machine: 1, partition: 1, vmbus: 1 } as const;
const RAM_BASE = MEMMAP.dram.base;

/** What the META section says: enough to build the partition before its state is loaded. */
export interface SaveMeta {
  created: string;
  /** The partition as created (its disks are in the disks record). */
  spec: PartitionSpec;
  clock: ClockMode;
  /** Steps the guest had taken (instructions, traps, idle: --max-insns counts on from here). */
  steps: number;
}

export interface SaveInfo {
  bytes: number;
  ms: number;
  /** RAM pages stored (the rest were zero). */
  pages: number;
}

function partitionBase(kernel: KernelInstance, id: number): number {
  const ex = kernel.exports as unknown as Record<string, WebAssembly.Global>;
  return (ex.LAYOUT_PARTITIONS!.value as number) + id * (ex.LAYOUT_PART_SIZE!.value as number);
}

function consInSize(kernel: KernelInstance): number {
  return (kernel.exports as unknown as Record<string, WebAssembly.Global>).LAYOUT_CONS_IN_SIZE!.value as number;
}

function ramPlace(m: Machine): RamPlace {
  return { host: m.ramHostAddress, gpa: RAM_BASE, size: m.config.ramSize, ...(m.overcommit ? { paged: true } : {}) };
}

/** The board's devices in a fixed order; the PLIC last, so that on restore no device's line re-raises what the PLIC's record says. */
function devicesOf(board: Machine['board']): MmioDevice[] {
  return [board.finisher, board.rtc, board.uart, ...board.virtio, board.plic];
}

/** The partition's own kernel state besides its vCPUs: mtime offset and the SBI console input ring. */
function savePartitionRecord(m: Machine): StateRecord {
  const k = m.kernel;
  const p = partitionBase(k, m.id);
  const dv = new DataView(m.memory.buffer, p, 256);
  const off = k.layout.off;
  const n = consInSize(k);
  return jsonRecord('partition', RECORD.partition, {
    mtimeOffset: dv.getBigUint64(off.P_MTIME_OFFSET!, true),
    consInHead: dv.getUint32(off.P_CONS_IN_HEAD!, true),
    consInTail: dv.getUint32(off.P_CONS_IN_TAIL!, true),
    consInBuf: Array.from(new Uint8Array(m.memory.buffer, p + off.P_CONS_IN_BUF!, n)),
  });
}

/**
 * Everything of paused partition `m` (created from `spec`) but its RAM: the
 * META contents and the records, its disks flushed by `flushDisks` first
 * (a save file's, and live migration's stop-and-copy, runtime/migrate/).
 */
export function captureState(m: Machine, spec: PartitionSpec, flushDisks: () => void): { meta: SaveMeta; records: StateRecord[] } {
  flushDisks();
  const machine = m.persistState(); // flushes console output too
  const records: StateRecord[] = [jsonRecord('machine', RECORD.machine, machine), savePartitionRecord(m)];
  m.harts.forEach((h, i) => records.push(saveVcpu(m.kernel, m.memory, i, h.base, ramPlace(m))));
  for (const d of devicesOf(m.board)) records.push(jsonRecord(`dev.${d.name}`, d.stateVersion, d.save()));
  const formats = spec.disks.map((d) => d.format ?? (isVhd(d.path) ? 'vpc' : 'raw'));
  if (m.vmbus) records.push(jsonRecord('vmbus', RECORD.vmbus, saveVmbus(m.vmbus, spec)));
  records.push(jsonRecord('disks', DISKS_RECORD_VERSION, { list: diskRefs(spec.disks, formats) }));
  // Boot images by absolute path: a reboot of the restored guest reads them again, from any working directory.
  const images = Object.fromEntries((['bios', 'kernel', 'initrd'] as const).filter((k) => spec[k] !== undefined).map((k) => [k, resolve(spec[k]!)]));
  const meta: SaveMeta = { created: new Date().toISOString(), spec: { ...spec, ...images, disks: [] }, clock: machine.clockMode, steps: m.steps() };
  return { meta, records };
}

/**
 * Writes paused partition `m` (created from `spec`) to `path`. `flushDisks`
 * closes (flushes) its disk images, which are referenced, not copied: the
 * partition must not run again in this process unless they are reopened.
 */
export function savePartition(path: string, m: Machine, spec: PartitionSpec, flushDisks: () => void): SaveInfo {
  const t0 = performance.now();
  const { meta, records } = captureState(m, spec, flushDisks);
  const mem = encodeMemory(m.overcommit?.snapshot() ?? m.ram); // with overcommit, through the page map
  const bytes = writeContainer(path, [
    { tag: 'META', flags: 0, payload: jsonRecord('meta', RECORD.meta, meta).body },
    { tag: 'STAT', flags: FLAG_DEFLATED, payload: deflateRawSync(encodeRecords(records)) },
    { tag: 'MEM ', flags: 0, payload: mem },
  ]);
  const pages = countPages(mem, m.config.ramSize);
  return { bytes, ms: performance.now() - t0, pages };
}

function countPages(mem: Uint8Array, ramSize: number): number {
  const pages = Math.ceil(ramSize / 4096);
  let n = 0;
  for (let p = 0; p < pages; p++) if (mem[12 + (p >> 3)]! & (1 << (p & 7))) n++;
  return n;
}

/** A save file read and checked as far as it can be without a partition to load it into. */
export interface LoadedSave {
  /** The file it was read from (a threaded host's root partition reads it again). */
  path: string;
  meta: SaveMeta;
  records: RecordSet;
  /** The MEM section; absent when the RAM is in place already (live migration wrote it page by page). */
  memory?: Uint8Array;
  /** The partition to create: the saved spec with the disks of the save file. */
  spec: PartitionSpec;
  /** Its disks are not the saved ones but readSave's options.disks (a revert's or a clone's children). */
  otherDisks?: true;
}

/**
 * Reads and checks save file `path`. `options.disks` puts other images in
 * place of the saved ones (a snapshot's state on a new differencing child
 * of its disks): one for each saved disk, not checked against the saved
 * fingerprints.
 */
export function readSave(path: string, options: { disks?: DiskSpec[] } = {}): LoadedSave {
  const sections = readContainer(path);
  const metaSection = section(sections, 'META');
  const meta = new RecordSet([{ kind: 'meta', version: RECORD.meta, body: metaSection.payload }]).json('meta', RECORD.meta) as unknown as SaveMeta;
  const stat = section(sections, 'STAT');
  let statBytes: Uint8Array = stat.payload;
  if (stat.flags & FLAG_DEFLATED) {
    try {
      statBytes = inflateRawSync(stat.payload, { maxOutputLength: 64 << 20 });
    } catch (e) {
      throw new PersistError('section "STAT"', `does not inflate: ${(e as Error).message}`, { cause: e });
    }
  }
  const records = new RecordSet(decodeRecords(statBytes, 'section "STAT"'));
  if (meta.clock !== 'icount' && meta.clock !== 'realtime' && meta.clock !== 'sched') throw new PersistError('meta.clock', `is not a clock mode: ${String(meta.clock)}`);
  if (typeof meta.steps !== 'number' || !(meta.steps >= 0)) throw new PersistError('meta.steps', 'is not a step count');
  let spec: PartitionSpec;
  try {
    const saved = records.json('disks', DISKS_RECORD_VERSION).list;
    const disks = options.disks ? replaceDiskRefs(saved, options.disks) : checkDiskRefs(saved);
    spec = checkPartition({ ...(meta.spec as PartitionSpec), disks });
  } catch (e) {
    if (e instanceof SpecError) throw new PersistError(`meta.spec.${e.path}`, e.problem, { cause: e });
    throw e;
  }
  return { path, meta, records, memory: section(sections, 'MEM ').payload, spec, ...(options.disks ? { otherDisks: true as const } : {}) };
}

export interface RestoreOptions extends SetupOptions {
  /** Paging mode of the new partition (default: the saved one); guest state does not depend on it. */
  paging?: PartitionSpec['paging'];
}

/**
 * Creates the partition of `save` on `hv` and loads its state: ready to
 * run on from where it was saved. Throws PersistError (nothing created is
 * left running, its disks are closed) for a file that does not fit.
 */
export function restorePartition(save: LoadedSave, hv: Hypervisor, options: RestoreOptions): { machine: Machine; disks: BlockDevice[] } {
  const spec = { ...save.spec, paging: options.paging ?? save.spec.paging };
  return loadSave(save, createPartition(spec, hv, options), hv);
}

/**
 * Loads the state of `save` into partition `made` (fresh from
 * createPartition; its RAM already written when save.memory is absent).
 * On failure the partition is taken down and the error thrown, as
 * restorePartition's.
 */
export function loadSave(save: LoadedSave, made: { machine: Machine; disks: BlockDevice[] }, hv: Hypervisor): { machine: Machine; disks: BlockDevice[] } {
  const { machine: m, disks } = made;
  try {
    const apply = checkState(save, m, disks);
    apply();
  } catch (e) {
    closeDisks(disks);
    hv.unregister(m.id);
    m.releaseMemory();
    if (e instanceof DeviceStateError) throw new PersistError(e.message.split(':')[0] ?? 'device', e.message.slice(e.message.indexOf(':') + 2), { cause: e });
    throw e;
  }
  return { machine: m, disks };
}

/** Checks every record of `save` against fresh partition `m`; returns what loads them (nothing is written before). */
function checkState(save: LoadedSave, m: Machine, disks: readonly BlockDevice[]): () => void {
  const r = save.records;
  const k = m.kernel;
  const loadRam = save.memory ? decodeMemory(save.memory, m.config.ramSize) : () => {};
  const vcpus = m.harts.map((_, i) => checkVcpu(k, r.bytes(`vcpu${i}`, 1), i, ramPlace(m)));
  if (r.has(`vcpu${m.harts.length}`)) throw new PersistError(`vcpu${m.harts.length}`, `the partition has ${m.harts.length} vCPUs`);
  const machine = checkMachineState(r.json('machine', RECORD.machine));
  const part = r.json('partition', RECORD.partition);
  const n = consInSize(k);
  const mtimeOffset = bigField(part, 'partition', 'mtimeOffset');
  const consInHead = u32Field(part, 'partition', 'consInHead');
  const consInTail = u32Field(part, 'partition', 'consInTail');
  const consInBuf = part.consInBuf;
  if (!Array.isArray(consInBuf) || consInBuf.length !== n || !consInBuf.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
    throw new PersistError('partition.consInBuf', `is not ${n} bytes`);
  }
  if (((consInTail - consInHead) >>> 0) > n) throw new PersistError('partition.consInTail', 'the console input ring holds more than it can');
  // Devices: every record is loaded into a scratch board first (the models
  // check their own fields), so a bad one is found before the real board changes.
  const live = devicesOf(m.board);
  const states = live.map((d) => r.json(`dev.${d.name}`, d.stateVersion));
  // The scratch devices check queue addresses against RAM and touch nothing
  // (an overcommit partition has no run: its demand-allocated pages).
  const scratchRam = m.overcommit?.pages ?? new RamGuestMemory(m.ram, RAM_BASE);
  const scratch = createVirtBoard({
    harts: m.config.harts,
    externalIrq: () => {},
    virtio: [
      // The virtio disks only: a disk on VMBus has no slot (its state is the vmbus record's).
      ...disks.filter((_, i) => save.spec.disks[i]?.if !== 'vmbus').map((d) => virtioBlkFactory(d, scratchRam)),
      // A balloon checks its record too.
      ...(m.config.overcommit?.balloon ? [virtioBalloonFactory(scratchRam, { inflate: () => false, reclaim: () => {} }, () => {})] : []),
    ],
  });
  devicesOf(scratch).forEach((d, i) => d.restore(states[i]!));
  const vmbus = checkVmbus(r, m);
  return () => {
    // Overcommit: only the stored pages take frames; the others stay unpopulated.
    loadRam(m.overcommit ? (offset, page) => m.guestMemory.write(RAM_BASE + offset, page) : m.ram);
    m.harts.forEach((h, i) => vcpus[i]!(m.memory, h.base, m.firstVcpu + i));
    const p = partitionBase(k, m.id);
    const dv = new DataView(m.memory.buffer, p, 256);
    const off = k.layout.off;
    dv.setBigUint64(off.P_MTIME_OFFSET!, mtimeOffset, true);
    dv.setUint32(off.P_CONS_IN_HEAD!, consInHead, true);
    dv.setUint32(off.P_CONS_IN_TAIL!, consInTail, true);
    new Uint8Array(m.memory.buffer, p + off.P_CONS_IN_BUF!, n).set(consInBuf as number[]);
    m.loadState(machine);
    // Guest time continues from the save: the clock is set where it was, or
    // (a clock the host cannot set) the mtime offset makes up the difference.
    if (!m.setClock(machine.clockTicks)) {
      dv.setBigUint64(off.P_MTIME_OFFSET!, BigInt.asUintN(64, mtimeOffset + BigInt(machine.clockTicks - m.clockNow())), true);
    }
    live.forEach((d, i) => d.restore(states[i]!));
    vmbus();
  };
}

/**
 * The root's side of the partition's VMBus (channels, queues, synthetic
 * devices); a device that cannot be saved refuses the save, and so does a
 * `spec` that does not name the bus's devices as they are now (the restore
 * makes them from it: a caller must pass the spec after hot add and remove,
 * runtime/host/vmbus-hotplug.ts specNow).
 */
function saveVmbus(v: VmbusHost, spec: PartitionSpec): object {
  const named = new Set(specVmbusIds(spec));
  const on = v.deviceList.map((d) => d.instanceId);
  const missing = on.find((id) => !named.has(id));
  const gone = [...named].find((id) => !on.includes(id));
  if (missing || gone || on.length !== named.size) {
    const what = missing ? `device ${missing} is on its VMBus but not in its spec` : gone ? `its spec names device ${gone}, which its VMBus no longer has` : 'its spec names its VMBus devices twice';
    throw new PersistError('vmbus', `the partition's devices changed while it ran and the spec given does not say so: ${what}`);
  }
  try {
    return v.save();
  } catch (e) {
    if (e instanceof VmbusSaveError) throw new PersistError('vmbus', e.message, { cause: e });
    throw e;
  }
}

/** Checks the saved VMBus state against the partition's (made fresh for it); returns what loads it. */
function checkVmbus(r: RecordSet, m: Machine): () => void {
  if (!r.has('vmbus')) return () => {};
  const saved = r.json('vmbus', RECORD.vmbus) as unknown as SavedVmbus;
  const v = m.restoreVmbus();
  if (!v) throw new PersistError('vmbus', 'the save has VMBus state, but this partition has no VMBus devices');
  return v.checkRestore(saved);
}

function bigField(o: Record<string, unknown>, who: string, key: string): bigint {
  const v = o[key];
  if (typeof v !== 'string' || !/^\d{1,20}$/.test(v) || BigInt(v) >= 1n << 64n) throw new PersistError(`${who}.${key}`, 'is not a u64 decimal string');
  return BigInt(v);
}

function u32Field(o: Record<string, unknown>, who: string, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new PersistError(`${who}.${key}`, 'is not a u32');
  return v;
}

function checkMachineState(o: Record<string, unknown>): MachineState {
  const who = 'machine';
  const num = (key: string) => {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new PersistError(`${who}.${key}`, 'is not a count');
    return v;
  };
  bigField(o, who, 'tohost');
  bigField(o, who, 'fromhost');
  if (typeof o.enlightened !== 'boolean') throw new PersistError(`${who}.enlightened`, 'is not a boolean');
  const input = o.sbiInput;
  if (!Array.isArray(input) || !input.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) throw new PersistError(`${who}.sbiInput`, 'is not a list of bytes');
  const mode = o.clockMode;
  if (mode !== 'icount' && mode !== 'realtime' && mode !== 'sched') throw new PersistError(`${who}.clockMode`, 'is not a clock mode');
  const round = o.round;
  if (round !== null) {
    const rr = round as Record<string, unknown>;
    const ok =
      typeof rr === 'object' && Number.isInteger(rr.vcpu) && (rr.vcpu as number) >= 0 && typeof rr.ran === 'boolean' &&
      (rr.left === undefined || (Number.isInteger(rr.left) && (rr.left as number) > 0));
    if (!ok) throw new PersistError(`${who}.round`, 'is not a round position');
  }
  num('reboots');
  num('idleSteps');
  num('clockTicks');
  return o as unknown as MachineState;
}
