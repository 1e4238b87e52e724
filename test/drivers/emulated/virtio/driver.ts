// A test-only virtio driver: programs a virtio-mmio transport through its
// registers and builds descriptor tables and rings in a Uint8Array "guest
// RAM", the way Linux's virtio_mmio / virtio_ring do (and, on demand, the
// ways a broken or hostile driver would).
import { MemoryFile } from '../../../../drivers/block/file.ts';
import { RawDevice } from '../../../../drivers/block/raw.ts';
import type { BlockDevice } from '../../../../drivers/block/device.ts';
import { RamGuestMemory } from '../../../../drivers/emulated/dma.ts';
import { VirtioBlk, type VirtioBlkOptions } from '../../../../drivers/emulated/virtio/blk.ts';
import {
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  VIRTIO_F_VERSION_1,
  bit,
} from '../../../../drivers/emulated/virtio/device.ts';
import * as R from '../../../../drivers/emulated/virtio/mmio.ts';
import { VirtioMmio, type VirtioMmioOptions } from '../../../../drivers/emulated/virtio/mmio.ts';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '../../../../drivers/emulated/virtio/virtqueue.ts';

export const RAM_BASE = 0x8000_0000;
export const RAM_SIZE = 1 << 20;

/** Where the driver puts queue 0 (modern layout) and where buffers start. */
export const DESC = RAM_BASE + 0x1000;
export const AVAIL = RAM_BASE + 0x3000;
export const USED = RAM_BASE + 0x4000;
export const BUFFERS = RAM_BASE + 0x2_0000;

export interface Buf {
  addr: number;
  len: number;
  write?: boolean;
}

/** A disk of `sectors` sectors where byte i of sector s is (s * 7 + i) & 0xff. */
export function patternDisk(sectors: number, readOnly = false): { file: MemoryFile; disk: BlockDevice } {
  const bytes = new Uint8Array(sectors * 512);
  for (let i = 0; i < bytes.length; i++) bytes[i] = ((i >> 9) * 7 + (i & 511)) & 0xff;
  const file = new MemoryFile(bytes);
  return { file, disk: new RawDevice(file, readOnly) };
}

export interface Rig {
  ram: Uint8Array;
  dv: DataView;
  dev: VirtioMmio;
  blk: VirtioBlk;
  file: MemoryFile;
  irqLog: boolean[];
  /** Current level of the interrupt line. */
  irq(): boolean;
  drv: MockDriver;
}

export function rig(
  opts: { sectors?: number; readOnly?: boolean; blk?: VirtioBlkOptions; mmio?: VirtioMmioOptions; ram?: Uint8Array } = {},
): Rig {
  const ram = opts.ram ?? new Uint8Array(RAM_SIZE);
  const { file, disk } = patternDisk(opts.sectors ?? 64, opts.readOnly);
  const blk = new VirtioBlk(disk, opts.blk);
  const irqLog: boolean[] = [];
  let level = false;
  const dev = new VirtioMmio(blk, new RamGuestMemory(ram, RAM_BASE), {
    ...opts.mmio,
    irq: (l) => {
      level = l;
      irqLog.push(l);
    },
  });
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  const r: Rig = { ram, dv, dev, blk, file, irqLog, irq: () => level, drv: undefined as unknown as MockDriver };
  r.drv = new MockDriver(r);
  return r;
}

export class MockDriver {
  /** Free-running avail idx the driver has published. */
  availIdx = 0;
  /** Used entries already collected. */
  usedSeen = 0;
  /** Next free descriptor. */
  private nextDesc = 0;
  private heap = BUFFERS;
  size = 0;
  desc = DESC;
  avail = AVAIL;
  used = USED;
  legacy = false;

  constructor(private readonly r: Rig) {}

  read(off: number): number {
    return this.r.dev.read(off, 4);
  }
  write(off: number, v: number): void {
    this.r.dev.write(off, 4, v);
  }
  get status(): number {
    return this.read(R.VIRTIO_MMIO_STATUS);
  }

  deviceFeatures(): bigint {
    this.write(R.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    const lo = this.read(R.VIRTIO_MMIO_DEVICE_FEATURES);
    this.write(R.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    const hi = this.read(R.VIRTIO_MMIO_DEVICE_FEATURES);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  writeFeatures(f: bigint): void {
    this.write(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    this.write(R.VIRTIO_MMIO_DRIVER_FEATURES, Number(f & 0xffff_ffffn));
    this.write(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    this.write(R.VIRTIO_MMIO_DRIVER_FEATURES, Number(f >> 32n));
  }

  /** Reset, ACKNOWLEDGE, DRIVER, features (all offered unless `features`), FEATURES_OK. Returns the status read back. */
  negotiate(features?: bigint): number {
    this.write(R.VIRTIO_MMIO_STATUS, 0);
    this.write(R.VIRTIO_MMIO_STATUS, STATUS_ACKNOWLEDGE);
    this.write(R.VIRTIO_MMIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    this.writeFeatures(features ?? this.deviceFeatures());
    if (this.legacy) return this.status;
    this.write(R.VIRTIO_MMIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    return this.status;
  }

  /** Modern queue setup: QueueSel, QueueNum, the three addresses, QueueReady. */
  setupQueue(size: number, q = 0, where: { desc?: number; avail?: number; used?: number } = {}): void {
    this.size = size;
    this.desc = where.desc ?? DESC;
    this.avail = where.avail ?? AVAIL;
    this.used = where.used ?? USED;
    this.write(R.VIRTIO_MMIO_QUEUE_SEL, q);
    this.write(R.VIRTIO_MMIO_QUEUE_NUM, size);
    const w64 = (lo: number, v: number) => {
      this.write(lo, v % 0x1_0000_0000);
      this.write(lo + 4, Math.floor(v / 0x1_0000_0000));
    };
    w64(R.VIRTIO_MMIO_QUEUE_DESC_LOW, this.desc);
    w64(R.VIRTIO_MMIO_QUEUE_DRIVER_LOW, this.avail);
    w64(R.VIRTIO_MMIO_QUEUE_DEVICE_LOW, this.used);
    this.write(R.VIRTIO_MMIO_QUEUE_READY, 1);
  }

  /** Legacy queue setup: GuestPageSize, QueueNum, QueueAlign, QueuePFN (rings contiguous from `pfn`). */
  setupLegacyQueue(size: number, pfn = (DESC - 0) / 4096, align = 4096, pageSize = 4096): void {
    this.size = size;
    this.write(R.VIRTIO_MMIO_GUEST_PAGE_SIZE, pageSize);
    this.write(R.VIRTIO_MMIO_QUEUE_SEL, 0);
    this.write(R.VIRTIO_MMIO_QUEUE_NUM, size);
    this.write(R.VIRTIO_MMIO_QUEUE_ALIGN, align);
    this.desc = pfn * pageSize;
    this.avail = this.desc + 16 * size;
    this.used = Math.ceil((this.avail + 6 + 2 * size) / align) * align;
    this.write(R.VIRTIO_MMIO_QUEUE_PFN, pfn);
  }

  driverOk(): void {
    const s = this.status & ~0x40;
    this.write(R.VIRTIO_MMIO_STATUS, s | STATUS_DRIVER_OK);
  }

  /** The whole modern bring-up with one queue of `size`. */
  init(size = 16, features?: bigint): void {
    this.negotiate(features);
    this.setupQueue(size);
    this.driverOk();
  }

  /** Allocates and zeroes `len` bytes of "guest RAM"; returns the guest address. */
  alloc(len: number, align = 16): number {
    this.heap = Math.ceil(this.heap / align) * align;
    const a = this.heap;
    this.heap += len;
    if (this.heap > RAM_BASE + RAM_SIZE) this.heap = BUFFERS;
    this.r.ram.fill(0, a - RAM_BASE, a - RAM_BASE + len);
    return a;
  }

  bytes(addr: number, len: number): Uint8Array {
    return this.r.ram.slice(addr - RAM_BASE, addr - RAM_BASE + len);
  }
  put(addr: number, data: Uint8Array): void {
    this.r.ram.set(data, addr - RAM_BASE);
  }

  /** Writes descriptor `i` of the table at `table`. */
  setDesc(i: number, d: { addr: number; len: number; flags: number; next?: number }, table = this.desc): void {
    const o = table - RAM_BASE + 16 * i;
    const dv = this.r.dv;
    dv.setUint32(o, d.addr % 0x1_0000_0000, true);
    dv.setUint32(o + 4, Math.floor(d.addr / 0x1_0000_0000), true);
    dv.setUint32(o + 8, d.len, true);
    dv.setUint16(o + 12, d.flags, true);
    dv.setUint16(o + 14, d.next ?? 0, true);
  }

  /** Puts a chain of buffers in consecutive descriptors; returns the head index (not yet made available). */
  chain(bufs: Buf[]): number {
    const head = this.nextDesc;
    bufs.forEach((b, k) => {
      const i = (head + k) % this.size;
      const last = k === bufs.length - 1;
      this.setDesc(i, {
        addr: b.addr,
        len: b.len,
        flags: (b.write ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT),
        next: (i + 1) % this.size,
      });
    });
    this.nextDesc = (head + bufs.length) % this.size;
    return head;
  }

  /** Puts the buffers in an indirect table and one descriptor pointing at it; returns the head. */
  indirectChain(bufs: Buf[]): number {
    const table = this.alloc(16 * bufs.length);
    bufs.forEach((b, k) =>
      this.setDesc(
        k,
        {
          addr: b.addr,
          len: b.len,
          flags: (b.write ? VIRTQ_DESC_F_WRITE : 0) | (k === bufs.length - 1 ? 0 : VIRTQ_DESC_F_NEXT),
          next: k + 1,
        },
        table,
      ),
    );
    const head = this.nextDesc;
    this.setDesc(head, { addr: table, len: 16 * bufs.length, flags: VIRTQ_DESC_F_INDIRECT });
    this.nextDesc = (head + 1) % this.size;
    return head;
  }

  /** Makes `head` available (ring entry, then idx). */
  offer(head: number): void {
    const dv = this.r.dv;
    const a = this.avail - RAM_BASE;
    dv.setUint16(a + 4 + 2 * (this.availIdx % this.size), head, true);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    dv.setUint16(a + 2, this.availIdx, true);
  }

  setAvailFlags(flags: number): void {
    this.r.dv.setUint16(this.avail - RAM_BASE, flags, true);
  }
  setAvailIdx(idx: number): void {
    this.availIdx = idx & 0xffff;
    this.r.dv.setUint16(this.avail - RAM_BASE + 2, this.availIdx, true);
  }
  setUsedEvent(idx: number): void {
    this.r.dv.setUint16(this.avail - RAM_BASE + 4 + 2 * this.size, idx, true);
  }
  availEvent(): number {
    return this.r.dv.getUint16(this.used - RAM_BASE + 4 + 8 * this.size, true);
  }
  /** The used ring's idx (-1 when the driver put the ring outside RAM). */
  usedIdx(): number {
    if (this.used < RAM_BASE || this.used + 4 > RAM_BASE + RAM_SIZE) return -1;
    return this.r.dv.getUint16(this.used - RAM_BASE + 2, true);
  }

  kick(q = 0): void {
    this.write(R.VIRTIO_MMIO_QUEUE_NOTIFY, q);
  }

  /** Used entries published since the last call. */
  collect(): { id: number; len: number }[] {
    const out: { id: number; len: number }[] = [];
    const dv = this.r.dv;
    const u = this.used - RAM_BASE;
    const idx = dv.getUint16(u + 2, true);
    while (this.usedSeen !== idx) {
      const e = u + 4 + 8 * (this.usedSeen % this.size);
      out.push({ id: dv.getUint32(e, true), len: dv.getUint32(e + 4, true) });
      this.usedSeen = (this.usedSeen + 1) & 0xffff;
    }
    return out;
  }

  ack(): number {
    const s = this.read(R.VIRTIO_MMIO_INTERRUPT_STATUS);
    this.write(R.VIRTIO_MMIO_INTERRUPT_ACK, s);
    return s;
  }

  // ---- virtio-blk requests ------------------------------------------------------

  /** Builds header, data and status buffers for a request; returns their addresses and the buffer list. */
  blkRequest(type: number, sector: number | bigint, data: number | Uint8Array, opts: { split?: number } = {}) {
    const hdr = this.alloc(16);
    const dv = this.r.dv;
    dv.setUint32(hdr - RAM_BASE, type, true);
    dv.setBigUint64(hdr - RAM_BASE + 8, BigInt(sector), true);
    const len = typeof data === 'number' ? data : data.length;
    const buf = this.alloc(Math.max(len, 1), 512);
    if (typeof data !== 'number') this.put(buf, data);
    const status = this.alloc(1);
    this.r.ram[status - RAM_BASE] = 0xee;
    const write = type !== 1; // OUT's data is device-readable
    const bufs: Buf[] = [{ addr: hdr, len: 16 }];
    // Optionally split the data over several descriptors of `split` bytes.
    const step = opts.split ?? len;
    for (let o = 0; o < len; o += step) bufs.push({ addr: buf + o, len: Math.min(step, len - o), write });
    bufs.push({ addr: status, len: 1, write: true });
    return { hdr, buf, status, len, bufs };
  }

  statusByte(addr: number): number {
    return this.r.ram[addr - RAM_BASE]!;
  }
}

export const VERSION_1 = bit(VIRTIO_F_VERSION_1);
export { R };
