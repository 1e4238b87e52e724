// The MMIO bus of the root partition: a list of {base, size, device} ranges
// (as in Bao's MMIO emulation), placed from the memmap table. The kernel
// forwards every guest load/store outside RAM that it does not service itself
// (the CLINT) here; each forwarded access is one VM exit, counted per device.
// An access that hits no device, straddles a device's end, or is misaligned
// raises BusError, which the kernel turns into a load/store access fault
// (privileged spec 3.6: misaligned accesses to I/O regions may raise access
// faults).

import { type AccessSize, isAccessSize, type MmioDevice, sizeMask } from '../emulated/device.ts';
import { MEMMAP, type Region, type RegionName, regionBase } from './memmap.ts';

export type BusErrorReason = 'unmapped' | 'misaligned' | 'bad-size';

/** A guest access the bus cannot deliver; the kernel reports it as an access fault. */
export class BusError extends Error {
  constructor(
    readonly reason: BusErrorReason,
    readonly addr: number,
    readonly size: number,
    readonly write: boolean,
  ) {
    const hex = Number.isFinite(addr) ? `0x${addr.toString(16)}` : String(addr);
    super(`${write ? 'write' : 'read'} of ${size} byte(s) at ${hex}: ${reason}`);
    this.name = 'BusError';
  }
}

/** Raised for a mapping the host set up wrongly (overlap, bad size): a host bug, not a guest fault. */
export class BusConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BusConfigError';
  }
}

/** Per-device exit counters. An 8-byte guest access counts once, though the device sees two. */
export interface DeviceStats {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  reads: number;
  writes: number;
}

interface Mapping {
  readonly base: number;
  readonly end: number; // exclusive
  readonly device: MmioDevice;
  readonly stats: DeviceStats;
}

export class MmioBus {
  private readonly mappings: Mapping[] = []; // sorted by base
  private last: Mapping | undefined; // most recent hit: device accesses come in runs
  /** Accesses that hit no device. */
  unmapped = 0;

  /** Maps `device` at [base, base + device.size). */
  map(base: number, device: MmioDevice): void {
    const end = base + device.size;
    if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(device.size) || device.size <= 0) {
      throw new BusConfigError(`cannot map ${device.name} at ${base} with size ${device.size}`);
    }
    const clash = this.mappings.find((m) => base < m.end && m.base < end);
    if (clash) {
      throw new BusConfigError(`${device.name} at 0x${base.toString(16)} overlaps ${clash.device.name} at 0x${clash.base.toString(16)}`);
    }
    const stats: DeviceStats = { name: device.name, base, size: device.size, reads: 0, writes: 0 };
    this.mappings.push({ base, end, device, stats });
    this.mappings.sort((a, b) => a.base - b.base);
  }

  /** Maps `device` at instance `index` of a memmap region; its size must fit the region. */
  mapRegion(name: RegionName, device: MmioDevice, index = 0): void {
    const r: Region = MEMMAP[name];
    if (r.servicer !== 'host') throw new BusConfigError(`region ${name} is serviced by the kernel, not the bus`);
    if (!Number.isInteger(index) || index < 0 || index >= r.count) {
      throw new BusConfigError(`region ${name} has ${r.count} instance(s), not ${index + 1}`);
    }
    if (device.size > r.size) throw new BusConfigError(`${device.name} (${device.size} bytes) does not fit region ${name} (${r.size})`);
    this.map(regionBase(name, index), device);
  }

  /** The device mapped at `addr`, if any. */
  deviceAt(addr: number): MmioDevice | undefined {
    return this.find(addr)?.device;
  }

  read(addr: number, size: AccessSize): number {
    const m = this.route(addr, size, false);
    m.stats.reads++;
    return (m.device.read(addr - m.base, size) & sizeMask(size)) >>> 0;
  }

  write(addr: number, size: AccessSize, value: number): void {
    const m = this.route(addr, size, true);
    m.stats.writes++;
    m.device.write(addr - m.base, size, (value & sizeMask(size)) >>> 0);
  }

  /** An 8-byte load, delivered as two 4-byte reads, low word first. */
  read64(addr: number): bigint {
    const m = this.route(addr, 8, false);
    m.stats.reads++;
    const off = addr - m.base;
    const lo = m.device.read(off, 4) >>> 0;
    const hi = m.device.read(off + 4, 4) >>> 0;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** An 8-byte store, delivered as two 4-byte writes, low word first. */
  write64(addr: number, value: bigint): void {
    const m = this.route(addr, 8, true);
    m.stats.writes++;
    const off = addr - m.base;
    m.device.write(off, 4, Number(value & 0xffff_ffffn));
    m.device.write(off + 4, 4, Number((value >> 32n) & 0xffff_ffffn));
  }

  /** Exit counters, one entry per mapped device, in address order. */
  stats(): readonly DeviceStats[] {
    return this.mappings.map((m) => m.stats);
  }

  resetStats(): void {
    for (const m of this.mappings) m.stats.reads = m.stats.writes = 0;
    this.unmapped = 0;
  }

  /** Board reset: every device back to its power-on state. */
  resetDevices(): void {
    for (const m of this.mappings) m.device.reset();
  }

  private route(addr: number, size: number, write: boolean): Mapping {
    if (size !== 8 && !isAccessSize(size)) throw new BusError('bad-size', addr, size, write);
    const m = this.find(addr);
    if (!m || addr + size > m.end) {
      this.unmapped++;
      throw new BusError('unmapped', addr, size, write);
    }
    if (addr % size !== 0) throw new BusError('misaligned', addr, size, write);
    return m;
  }

  private find(addr: number): Mapping | undefined {
    const last = this.last;
    if (last && addr >= last.base && addr < last.end) return last;
    if (!Number.isSafeInteger(addr)) return undefined;
    let lo = 0;
    let hi = this.mappings.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.mappings[mid]!;
      if (addr < m.base) hi = mid - 1;
      else if (addr >= m.end) lo = mid + 1;
      else return (this.last = m);
    }
    return undefined;
  }
}
