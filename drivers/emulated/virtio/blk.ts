// virtio-blk (virtio spec 1.2 section 5.2), device id 2, one request queue,
// over any BlockDevice (raw image, VHD). A request is a chain of
//
//   struct virtio_blk_req { le32 type; le32 reserved; le64 sector;   device-readable
//                           u8 data[];                               readable (OUT) or writable (IN, GET_ID)
//                           u8 status; }                             the last device-writable byte
//
// Request-level problems (out of range, unaligned length, a read-only disk,
// a host I/O error) complete with VIRTIO_BLK_S_IOERR; unknown types with
// VIRTIO_BLK_S_UNSUPP. A chain too short to hold the header and status byte
// is a protocol violation: VirtioError, so the transport enters
// DEVICE_NEEDS_RESET (QEMU's "virtio-blk missing headers").
//
// Configuration space (little-endian):
//   0x00 capacity u64 (512-byte sectors)   0x14 blk_size u32
//   0x08 size_max u32                       0x18 topology (unused, 0)
//   0x0c seg_max u32                        0x20 writeback u8, 0x22 num_queues u16
//   0x10 geometry (unused, 0)               0x24.. discard / write-zeroes (unused, 0)

import { type BlockDevice, SECTOR_SIZE } from '../../block/device.ts';
import type { GuestMemory } from '../dma.ts';
import { DeviceStateError, type IrqLine, boolField, uintField } from '../device.ts';
import { bit, type Metrics, type VirtioBackend } from './device.ts';
import { VirtioMmio, type VirtioMmioOptions } from './mmio.ts';
import { type DescriptorChain, MAX_CHAIN_SEGMENTS, VirtioError } from './virtqueue.ts';

export const VIRTIO_ID_BLOCK = 2;

// Feature bits (5.2.3).
export const VIRTIO_BLK_F_SIZE_MAX = 1n;
export const VIRTIO_BLK_F_SEG_MAX = 2n;
export const VIRTIO_BLK_F_GEOMETRY = 4n;
export const VIRTIO_BLK_F_RO = 5n;
export const VIRTIO_BLK_F_BLK_SIZE = 6n;
export const VIRTIO_BLK_F_FLUSH = 9n;
export const VIRTIO_BLK_F_TOPOLOGY = 10n;
export const VIRTIO_BLK_F_CONFIG_WCE = 11n;

// Request types and status values (5.2.6).
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_GET_LIFETIME = 10;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;
/** Legacy: a barrier flag or'ed into the type; ignored (as QEMU does). */
export const VIRTIO_BLK_T_BARRIER = 0x8000_0000;

export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

export const VIRTIO_BLK_ID_BYTES = 20;
export const VIRTIO_BLK_REQ_HEADER = 16;
export const VIRTIO_BLK_CONFIG_SIZE = 0x3c;

/** Default queue size, as QEMU's virtio-blk (queue-size=256). */
export const VIRTIO_BLK_QUEUE_SIZE = 256;

export interface VirtioBlkOptions {
  /** Maximum (and default) size of the request queue: a power of two (default 256). */
  queueSize?: number;
  /** The serial number GET_ID returns (at most 20 bytes are sent; default empty). */
  serial?: string;
  /** Offer VIRTIO_BLK_F_SIZE_MAX with this maximum segment size in bytes (default: not offered). */
  sizeMax?: number;
}

export interface VirtioBlkMetrics extends Metrics {
  requests: number;
  reads: number;
  writes: number;
  flushes: number;
  getIds: number;
  bytesRead: number;
  bytesWritten: number;
  /** Requests completed with IOERR. */
  ioErrors: number;
  /** Requests completed with UNSUPP. */
  unsupported: number;
}

export class VirtioBlk implements VirtioBackend {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly name = 'blk';
  readonly stateVersion = 1;
  readonly queueMaxSizes: readonly number[];
  readonly features: bigint;

  private readonly cfg = new Uint8Array(VIRTIO_BLK_CONFIG_SIZE);
  private readonly serial: Uint8Array;
  private negotiated = 0n;
  private readonly stats: VirtioBlkMetrics = {
    requests: 0,
    reads: 0,
    writes: 0,
    flushes: 0,
    getIds: 0,
    bytesRead: 0,
    bytesWritten: 0,
    ioErrors: 0,
    unsupported: 0,
  };
  /** Set when the last request failed with IOERR: why (for logs and tests). */
  lastIoError = '';

  constructor(
    readonly disk: BlockDevice,
    options: VirtioBlkOptions = {},
  ) {
    const queueSize = options.queueSize ?? VIRTIO_BLK_QUEUE_SIZE;
    if (!Number.isInteger(queueSize) || queueSize < 4 || queueSize > 32768 || (queueSize & (queueSize - 1)) !== 0) {
      throw new RangeError(`virtio-blk queue size ${queueSize} is not a power of two in 4..32768`);
    }
    this.queueMaxSizes = [queueSize];
    this.serial = new TextEncoder().encode(options.serial ?? '').subarray(0, VIRTIO_BLK_ID_BYTES);

    let features = bit(VIRTIO_BLK_F_SEG_MAX) | bit(VIRTIO_BLK_F_BLK_SIZE) | bit(VIRTIO_BLK_F_FLUSH);
    if (disk.readOnly) features |= bit(VIRTIO_BLK_F_RO);
    const dv = new DataView(this.cfg.buffer);
    dv.setBigUint64(0x00, BigInt(Math.floor(disk.size / SECTOR_SIZE)), true);
    if (options.sizeMax !== undefined) {
      if (!Number.isInteger(options.sizeMax) || options.sizeMax < SECTOR_SIZE || options.sizeMax > 0xffff_ffff) {
        throw new RangeError(`virtio-blk size_max ${options.sizeMax} out of range`);
      }
      features |= bit(VIRTIO_BLK_F_SIZE_MAX);
      dv.setUint32(0x08, options.sizeMax, true);
    }
    // Header and status take a descriptor each (QEMU: queue size - 2).
    dv.setUint32(0x0c, Math.min(queueSize, MAX_CHAIN_SEGMENTS) - 2, true);
    dv.setUint32(0x14, SECTOR_SIZE, true);
    dv.setUint16(0x22, 1, true);
    this.features = features;
  }

  /** Capacity in 512-byte sectors. */
  get capacity(): number {
    return Math.floor(this.disk.size / SECTOR_SIZE);
  }

  config(): Uint8Array {
    return this.cfg;
  }

  writeConfig(_offset: number, _size: number, _value: number): void {
    // Only 'writeback' is writable, with VIRTIO_BLK_F_CONFIG_WCE, which is not offered.
  }

  activate(features: bigint): void {
    this.negotiated = features;
  }

  reset(): void {
    this.negotiated = 0n;
  }

  handle(_queue: number, chain: DescriptorChain): number {
    if (chain.readableLength < VIRTIO_BLK_REQ_HEADER || chain.writableLength < 1) {
      throw new VirtioError(
        `virtio-blk request at descriptor ${chain.head} lacks a header or status byte (${chain.readableLength} readable, ${chain.writableLength} writable bytes)`,
      );
    }
    this.stats.requests++;
    const hdr = new DataView(chain.read(0, VIRTIO_BLK_REQ_HEADER).buffer);
    const type = hdr.getUint32(0, true) & ~VIRTIO_BLK_T_BARRIER;
    const sector = hdr.getBigUint64(8, true);
    const dataIn = chain.writableLength - 1; // bytes the device may write before the status byte
    let status: number;
    switch (type) {
      case VIRTIO_BLK_T_IN:
        status = this.read(chain, sector, dataIn);
        break;
      case VIRTIO_BLK_T_OUT:
        status = this.write(chain, sector, chain.readableLength - VIRTIO_BLK_REQ_HEADER);
        break;
      case VIRTIO_BLK_T_FLUSH:
        status = this.flush();
        break;
      case VIRTIO_BLK_T_GET_ID: {
        this.stats.getIds++;
        // The id NUL-terminated if it is shorter than 20 bytes (QEMU: MIN(strlen + 1, buffer, 20)).
        const id = new Uint8Array(Math.min(this.serial.length + 1, dataIn, VIRTIO_BLK_ID_BYTES));
        id.set(this.serial.subarray(0, id.length));
        chain.write(0, id);
        status = VIRTIO_BLK_S_OK;
        break;
      }
      default:
        this.stats.unsupported++;
        status = VIRTIO_BLK_S_UNSUPP;
        break;
    }
    if (status === VIRTIO_BLK_S_IOERR) this.stats.ioErrors++;
    chain.write(chain.writableLength - 1, Uint8Array.of(status));
    // As QEMU: the used length covers the whole writable area (data and status).
    return chain.writableLength;
  }

  /** Checks a data transfer; returns the byte offset, or an error message. */
  private range(sector: bigint, len: number): number | string {
    if (len % SECTOR_SIZE !== 0) return `length ${len} is not a multiple of ${SECTOR_SIZE}`;
    if (sector * BigInt(SECTOR_SIZE) + BigInt(len) > BigInt(this.disk.size)) {
      return `sectors ${sector}+${len / SECTOR_SIZE} beyond capacity ${this.capacity}`;
    }
    return Number(sector) * SECTOR_SIZE;
  }

  private read(chain: DescriptorChain, sector: bigint, len: number): number {
    this.stats.reads++;
    const offset = this.range(sector, len);
    if (typeof offset === 'string') return this.ioError(`read: ${offset}`);
    const buf = new Uint8Array(len);
    try {
      if (len > 0) this.disk.read(offset, buf);
    } catch (e) {
      return this.ioError(`read at ${offset}: ${(e as Error).message}`);
    }
    chain.write(0, buf);
    this.stats.bytesRead += len;
    return VIRTIO_BLK_S_OK;
  }

  private write(chain: DescriptorChain, sector: bigint, len: number): number {
    this.stats.writes++;
    if (this.disk.readOnly) return this.ioError('write to a read-only disk');
    const offset = this.range(sector, len);
    if (typeof offset === 'string') return this.ioError(`write: ${offset}`);
    try {
      if (len > 0) this.disk.write(offset, chain.read(VIRTIO_BLK_REQ_HEADER, len));
    } catch (e) {
      return this.ioError(`write at ${offset}: ${(e as Error).message}`);
    }
    this.stats.bytesWritten += len;
    return VIRTIO_BLK_S_OK;
  }

  private flush(): number {
    this.stats.flushes++;
    try {
      this.disk.flush();
    } catch (e) {
      return this.ioError(`flush: ${(e as Error).message}`);
    }
    return VIRTIO_BLK_S_OK;
  }

  private ioError(message: string): number {
    this.lastIoError = message;
    return VIRTIO_BLK_S_IOERR;
  }

  /** Features the driver accepted at DRIVER_OK. */
  get negotiatedFeatures(): bigint {
    return this.negotiated;
  }

  metrics(): VirtioBlkMetrics {
    return { ...this.stats };
  }

  save(): object {
    // The disk's contents are the disk's business; the snapshot pins which disk size it was taken with.
    return { capacity: this.capacity, readOnly: this.disk.readOnly, negotiated: this.negotiated.toString() };
  }

  restore(state: object): void {
    const capacity = uintField(state, 'capacity', 'virtio-blk', Number.MAX_SAFE_INTEGER);
    const readOnly = boolField(state, 'readOnly', 'virtio-blk');
    const negotiated = (state as { negotiated?: unknown }).negotiated;
    if (typeof negotiated !== 'string' || !/^\d+$/.test(negotiated)) {
      throw new DeviceStateError("virtio-blk: snapshot field 'negotiated' is not a decimal string");
    }
    if (capacity !== this.capacity) {
      throw new DeviceStateError(`virtio-blk: snapshot is of a ${capacity}-sector disk, this one has ${this.capacity}`);
    }
    if (readOnly !== this.disk.readOnly) throw new DeviceStateError('virtio-blk: snapshot disagrees on read-only');
    this.negotiated = BigInt(negotiated) & 0xffff_ffff_ffff_ffffn;
  }
}

export type VirtioBlkDeviceOptions = VirtioBlkOptions & Omit<VirtioMmioOptions, 'irq'>;

/** A virtio-mmio virtio-blk device over `dev` for one of createVirtBoard's `virtio` slots. */
export function virtioBlkFactory(
  dev: BlockDevice,
  mem: GuestMemory,
  options: VirtioBlkDeviceOptions = {},
): (irq: IrqLine) => VirtioMmio {
  return (irq) => new VirtioMmio(new VirtioBlk(dev, options), mem, { ...options, irq });
}
