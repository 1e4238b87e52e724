// The virtio-mmio transport (virtio spec 1.2 section 4.2): one 4 KiB window
// per device. Version 2 is the modern register layout (4.2.2); version 1, the
// legacy layout (4.2.4: GuestPageSize, QueuePFN, QueueAlign, 32 feature bits),
// is available for guests that need it. Registers are 32-bit; other widths
// read 0 and are ignored below the configuration space at 0x100, as on QEMU.
//
//   0x000 MagicValue  R  "virt"              0x050 QueueNotify       W
//   0x004 Version     R  2 (legacy: 1)       0x060 InterruptStatus   R  bit 0 used buffer, bit 1 config
//   0x008 DeviceID    R                      0x064 InterruptACK      W
//   0x00c VendorID    R  "QEMU"              0x070 Status            RW
//   0x010 DeviceFeatures     R               0x080 QueueDescLow/High W (modern)
//   0x014 DeviceFeaturesSel  W               0x090 QueueDriverLow/High W
//   0x020 DriverFeatures     W               0x0a0 QueueDeviceLow/High W
//   0x024 DriverFeaturesSel  W               0x0ac SHMSel, 0x0b0 SHMLen, 0x0b8 SHMBase (no regions: -1)
//   0x028 GuestPageSize      W (legacy)      0x0fc ConfigGeneration  R (modern)
//   0x030 QueueSel           W               0x100 device configuration space
//   0x034 QueueNumMax        R
//   0x038 QueueNum           W
//   0x03c QueueAlign         W (legacy)
//   0x040 QueuePFN           RW (legacy)
//   0x044 QueueReady         RW (modern)
//
// A QueueNotify write serves the queue synchronously (the device model runs
// on the root partition's thread) and raises the interrupt line if the driver
// wants one. Malformed use (bad descriptors or rings, queue indices out of
// range, DMA outside RAM, a queue size that is not a power of two or over the
// maximum, a notify for a queue that is not ready) puts the device in the
// error state the spec prescribes: Status gets DEVICE_NEEDS_RESET, the driver
// gets a configuration-change interrupt, and queues are left alone until the
// driver resets the device. Nothing a guest does makes read() or write() throw.

import { MEMMAP } from '../../board/memmap.ts';
import { DmaError, type GuestMemory } from '../dma.ts';
import {
  type AccessSize,
  DeviceStateError,
  type IrqLine,
  type MmioDevice,
  boolField,
  isAccessSize,
  sizeMask,
  uintArrayField,
  uintField,
} from '../device.ts';
import { VIRTIO_MAGIC, VIRTIO_VENDOR_QEMU } from '../virtio_mmio_empty.ts';
import {
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  VIRTIO_F_ANY_LAYOUT,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  HOLD,
  bit,
  type Metrics,
  type VirtioBackend,
} from './device.ts';
import { QueueState, SplitVirtqueue, VirtioError, checkLayout, legacyLayout, type QueueLayout } from './virtqueue.ts';

export const VIRTIO_MMIO_MAGIC_VALUE = 0x000;
export const VIRTIO_MMIO_VERSION = 0x004;
export const VIRTIO_MMIO_DEVICE_ID = 0x008;
export const VIRTIO_MMIO_VENDOR_ID = 0x00c;
export const VIRTIO_MMIO_DEVICE_FEATURES = 0x010;
export const VIRTIO_MMIO_DEVICE_FEATURES_SEL = 0x014;
export const VIRTIO_MMIO_DRIVER_FEATURES = 0x020;
export const VIRTIO_MMIO_DRIVER_FEATURES_SEL = 0x024;
export const VIRTIO_MMIO_GUEST_PAGE_SIZE = 0x028;
export const VIRTIO_MMIO_QUEUE_SEL = 0x030;
export const VIRTIO_MMIO_QUEUE_NUM_MAX = 0x034;
export const VIRTIO_MMIO_QUEUE_NUM = 0x038;
export const VIRTIO_MMIO_QUEUE_ALIGN = 0x03c;
export const VIRTIO_MMIO_QUEUE_PFN = 0x040;
export const VIRTIO_MMIO_QUEUE_READY = 0x044;
export const VIRTIO_MMIO_QUEUE_NOTIFY = 0x050;
export const VIRTIO_MMIO_INTERRUPT_STATUS = 0x060;
export const VIRTIO_MMIO_INTERRUPT_ACK = 0x064;
export const VIRTIO_MMIO_STATUS = 0x070;
export const VIRTIO_MMIO_QUEUE_DESC_LOW = 0x080;
export const VIRTIO_MMIO_QUEUE_DESC_HIGH = 0x084;
export const VIRTIO_MMIO_QUEUE_DRIVER_LOW = 0x090;
export const VIRTIO_MMIO_QUEUE_DRIVER_HIGH = 0x094;
export const VIRTIO_MMIO_QUEUE_DEVICE_LOW = 0x0a0;
export const VIRTIO_MMIO_QUEUE_DEVICE_HIGH = 0x0a4;
export const VIRTIO_MMIO_SHM_SEL = 0x0ac;
export const VIRTIO_MMIO_SHM_LEN_LOW = 0x0b0;
export const VIRTIO_MMIO_SHM_LEN_HIGH = 0x0b4;
export const VIRTIO_MMIO_SHM_BASE_LOW = 0x0b8;
export const VIRTIO_MMIO_SHM_BASE_HIGH = 0x0bc;
export const VIRTIO_MMIO_CONFIG_GENERATION = 0x0fc;
export const VIRTIO_MMIO_CONFIG = 0x100;

export const VIRTIO_MMIO_INT_VRING = 0x1;
export const VIRTIO_MMIO_INT_CONFIG = 0x2;

/** Most chains served for one notification before the device yields (the rest wait for the next one). */
const CHAINS_PER_NOTIFY = 1 << 16;

export interface VirtioMmioOptions {
  /** Name for statistics and logs (default "virtio-<backend name>"). */
  name?: string;
  /** The slot's interrupt line. */
  irq?: IrqLine;
  /** Present the legacy (version 1) register layout instead of version 2. */
  legacy?: boolean;
  /** Offer VIRTIO_F_INDIRECT_DESC (default true). */
  indirect?: boolean;
  /** Offer VIRTIO_F_EVENT_IDX (default true). */
  eventIdx?: boolean;
  /** Told why the device entered DEVICE_NEEDS_RESET (for logs). */
  onError?: (message: string) => void;
}

export interface TransportMetrics {
  notifications: number;
  interrupts: number;
  chains: number;
  deviceErrors: number;
  lastError: string;
}

export class VirtioMmio implements MmioDevice {
  readonly name: string;
  /** The transport's state; the device's own has its version in the state ('deviceVersion'). */
  readonly stateVersion = 1;
  readonly size = MEMMAP.virtio.size;
  readonly legacy: boolean;
  /** All feature bits offered to the driver. */
  readonly deviceFeatures: bigint;

  private readonly irq: IrqLine;
  private readonly onError: (message: string) => void;
  private readonly queues: QueueState[];

  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private queueSel = 0;
  private interruptStatus = 0;
  private configGeneration = 0;
  private guestPageSize = 4096;
  private shmSel = 0;
  private needsReset = false;

  private readonly stats: TransportMetrics = { notifications: 0, interrupts: 0, chains: 0, deviceErrors: 0, lastError: '' };

  constructor(
    readonly backend: VirtioBackend,
    private readonly mem: GuestMemory,
    options: VirtioMmioOptions = {},
  ) {
    this.name = options.name ?? `virtio-${backend.name}`;
    this.legacy = options.legacy ?? false;
    this.irq = options.irq ?? (() => {});
    this.onError = options.onError ?? (() => {});
    let features = backend.features;
    if (options.indirect ?? true) features |= bit(VIRTIO_F_INDIRECT_DESC);
    if (options.eventIdx ?? true) features |= bit(VIRTIO_F_EVENT_IDX);
    features |= this.legacy ? bit(VIRTIO_F_ANY_LAYOUT) : bit(VIRTIO_F_VERSION_1);
    if (this.legacy) features &= 0xffff_ffffn; // legacy devices have 32 feature bits
    this.deviceFeatures = features;
    this.queues = backend.queueMaxSizes.map((max) => new QueueState(max));
    backend.attach?.((queue, head, len) => this.completeHeld(queue, head, len));
  }

  /** A chain the back-end kept (HOLD) goes back to the driver now. */
  private completeHeld(queue: number, head: number, len: number): void {
    const ring = this.queues[queue]?.ring;
    if (!ring || this.needsReset || !(this.status & STATUS_DRIVER_OK)) return; // reset since: the driver forgot it too
    const old = ring.usedIdx;
    try {
      ring.push(head, Math.max(0, len));
    } catch (e) {
      this.fail(e);
      return;
    }
    if (ring.needsInterrupt(old)) this.raise(VIRTIO_MMIO_INT_VRING);
  }

  /** Features both sides agreed on (what the driver wrote, limited to what the device offers). */
  get negotiatedFeatures(): bigint {
    return this.driverFeatures & this.deviceFeatures;
  }

  /** True while the device waits for a reset after a driver error. */
  get deviceNeedsReset(): boolean {
    return this.needsReset;
  }

  // ---- MmioDevice ------------------------------------------------------------

  read(offset: number, size: AccessSize): number {
    if (!isAccessSize(size) || !Number.isInteger(offset) || offset < 0 || offset + size > this.size) return 0;
    try {
      if (offset >= VIRTIO_MMIO_CONFIG) return this.readConfig(offset - VIRTIO_MMIO_CONFIG, size);
      if (size !== 4) return 0;
      return this.readRegister(offset) >>> 0;
    } catch (e) {
      this.fail(e);
      return 0;
    }
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (!isAccessSize(size) || !Number.isInteger(offset) || offset < 0 || offset + size > this.size) return;
    const v = (Number.isFinite(value) ? value & sizeMask(size) : 0) >>> 0;
    try {
      if (offset >= VIRTIO_MMIO_CONFIG) {
        this.backend.writeConfig(offset - VIRTIO_MMIO_CONFIG, size, v);
        return;
      }
      if (size !== 4) return;
      this.writeRegister(offset, v);
    } catch (e) {
      this.fail(e);
    }
  }

  reset(): void {
    this.resetDevice();
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.guestPageSize = 4096;
    this.shmSel = 0;
    this.configGeneration = 0;
  }

  // ---- registers ---------------------------------------------------------------

  private readRegister(offset: number): number {
    const q = this.queues[this.queueSel];
    switch (offset) {
      case VIRTIO_MMIO_MAGIC_VALUE:
        return VIRTIO_MAGIC;
      case VIRTIO_MMIO_VERSION:
        return this.legacy ? 1 : 2;
      case VIRTIO_MMIO_DEVICE_ID:
        return this.backend.deviceId;
      case VIRTIO_MMIO_VENDOR_ID:
        return VIRTIO_VENDOR_QEMU;
      case VIRTIO_MMIO_DEVICE_FEATURES:
        if (this.deviceFeaturesSel > 1) return 0;
        return Number((this.deviceFeatures >> BigInt(32 * this.deviceFeaturesSel)) & 0xffff_ffffn);
      case VIRTIO_MMIO_QUEUE_NUM_MAX:
        return q ? q.maxSize : 0;
      case VIRTIO_MMIO_QUEUE_PFN:
        return this.legacy && q ? q.pfn : 0;
      case VIRTIO_MMIO_QUEUE_READY:
        return !this.legacy && q?.ready ? 1 : 0;
      case VIRTIO_MMIO_INTERRUPT_STATUS:
        return this.interruptStatus;
      case VIRTIO_MMIO_STATUS:
        return this.status;
      case VIRTIO_MMIO_SHM_LEN_LOW:
      case VIRTIO_MMIO_SHM_LEN_HIGH:
      case VIRTIO_MMIO_SHM_BASE_LOW:
      case VIRTIO_MMIO_SHM_BASE_HIGH:
        return this.legacy ? 0 : 0xffff_ffff; // no shared memory regions: length -1
      case VIRTIO_MMIO_CONFIG_GENERATION:
        return this.legacy ? 0 : this.configGeneration;
      default:
        return 0;
    }
  }

  private writeRegister(offset: number, v: number): void {
    const q = this.queues[this.queueSel];
    const modern = !this.legacy;
    switch (offset) {
      case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
        this.deviceFeaturesSel = v;
        break;
      case VIRTIO_MMIO_DRIVER_FEATURES:
        this.writeDriverFeatures(v);
        break;
      case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
        this.driverFeaturesSel = v;
        break;
      case VIRTIO_MMIO_GUEST_PAGE_SIZE:
        if (this.legacy) this.guestPageSize = v;
        break;
      case VIRTIO_MMIO_QUEUE_SEL:
        this.queueSel = v;
        break;
      case VIRTIO_MMIO_QUEUE_NUM:
        if (q) q.num = v;
        break;
      case VIRTIO_MMIO_QUEUE_ALIGN:
        if (this.legacy && q) q.align = v;
        break;
      case VIRTIO_MMIO_QUEUE_PFN:
        if (this.legacy) this.writeQueuePfn(v);
        break;
      case VIRTIO_MMIO_QUEUE_READY:
        if (modern) this.writeQueueReady(v);
        break;
      case VIRTIO_MMIO_QUEUE_NOTIFY:
        this.notify(v);
        break;
      case VIRTIO_MMIO_INTERRUPT_ACK:
        this.interruptStatus &= ~v;
        this.updateIrq();
        break;
      case VIRTIO_MMIO_STATUS:
        this.writeStatus(v & 0xff);
        break;
      case VIRTIO_MMIO_QUEUE_DESC_LOW:
      case VIRTIO_MMIO_QUEUE_DESC_HIGH:
      case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
      case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
      case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
      case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
        // Takes effect at the next QueueReady = 1 (the live ring keeps the layout it was enabled with).
        if (modern && q) q.addr[((offset - VIRTIO_MMIO_QUEUE_DESC_LOW) >> 4) * 2 + ((offset >> 2) & 1)] = v;
        break;
      case VIRTIO_MMIO_SHM_SEL:
        if (modern) this.shmSel = v;
        break;
      default:
        break;
    }
  }

  private writeDriverFeatures(v: number): void {
    const sel = this.driverFeaturesSel;
    if (sel > 1 || (this.legacy && sel !== 0)) return;
    if (!this.legacy && this.status & STATUS_FEATURES_OK) return; // negotiation is over
    const shift = BigInt(32 * sel);
    this.driverFeatures = (this.driverFeatures & ~(0xffff_ffffn << shift)) | (BigInt(v) << shift);
  }

  private writeStatus(v: number): void {
    if (v === 0) {
      this.resetDevice();
      return;
    }
    let next = v & ~STATUS_DEVICE_NEEDS_RESET;
    if (!this.legacy && next & STATUS_FEATURES_OK && !(this.status & STATUS_FEATURES_OK) && !this.featuresAcceptable()) {
      next &= ~STATUS_FEATURES_OK; // the driver sees FEATURES_OK did not stick
    }
    const starting = (next & STATUS_DRIVER_OK) !== 0 && (this.status & STATUS_DRIVER_OK) === 0;
    this.status = next | (this.needsReset ? STATUS_DEVICE_NEEDS_RESET : 0);
    if (starting && !this.needsReset) {
      this.backend.activate(this.negotiatedFeatures);
      // Buffers made available before DRIVER_OK are served now.
      for (let i = 0; i < this.queues.length; i++) if (this.queues[i]!.ring) this.serve(i);
    }
  }

  /**
   * Whether FEATURES_OK sticks. As tolerant as QEMU 7.2 (hw/virtio/virtio-mmio.c,
   * virtio_mmio_write, VIRTIO_MMIO_STATUS; hw/virtio/virtio.c, virtio_set_features
   * and virtio_set_status): bits the device did not offer are dropped, not refused
   * (virtio_set_features_nocheck masks them with host_features and the transport
   * ignores its result), and the device validates the features only when the
   * driver accepted VIRTIO_F_VERSION_1 (virtio_set_status calls
   * virtio_validate_features only then). A driver that never accepts VERSION_1
   * on the version 2 transport (xv6-riscv's) gets FEATURES_OK and a device that
   * works as before: our rings and requests are little-endian either way.
   */
  private featuresAcceptable(): boolean {
    const f = this.negotiatedFeatures;
    if (!(f & bit(VIRTIO_F_VERSION_1))) return true;
    return this.backend.acceptFeatures?.(f) ?? true;
  }

  private writeQueueReady(v: number): void {
    const q = this.queues[this.queueSel];
    if (!(v & 1)) {
      if (q) {
        q.ready = false;
        q.ring = null;
      }
      return;
    }
    if (!q) throw new VirtioError(`QueueReady for queue ${this.queueSel}, which does not exist`);
    if (q.ready) return;
    this.enable(q, q.modernLayout());
  }

  private writeQueuePfn(v: number): void {
    const q = this.queues[this.queueSel];
    if (v === 0) {
      if (q) {
        q.pfn = 0;
        q.ready = false;
        q.ring = null;
      }
      return;
    }
    if (!q) throw new VirtioError(`QueuePFN for queue ${this.queueSel}, which does not exist`);
    const pageSize = this.guestPageSize;
    if (pageSize === 0 || (pageSize & (pageSize - 1)) !== 0) throw new VirtioError(`GuestPageSize ${pageSize} is not a power of two`);
    if (q.align === 0 || (q.align & (q.align - 1)) !== 0) throw new VirtioError(`QueueAlign ${q.align} is not a power of two`);
    q.pfn = v;
    this.enable(q, legacyLayout(q.num, v, pageSize, q.align));
  }

  /** Checks the layout and starts serving the ring. Throws VirtioError. */
  private enable(q: QueueState, layout: QueueLayout): void {
    checkLayout(this.mem, layout, q.maxSize);
    const f = this.negotiatedFeatures;
    q.ring = new SplitVirtqueue(this.mem, layout, {
      indirect: (f & bit(VIRTIO_F_INDIRECT_DESC)) !== 0n,
      eventIdx: (f & bit(VIRTIO_F_EVENT_IDX)) !== 0n,
    });
    q.ready = true;
  }

  // ---- queues and interrupts ---------------------------------------------------

  private notify(v: number): void {
    this.stats.notifications++;
    if (this.needsReset) return; // nothing moves until the driver resets the device
    const index = v & 0xffff;
    const q = this.queues[index];
    if (!q) throw new VirtioError(`notify for queue ${index}, which does not exist`);
    if (!q.ring) throw new VirtioError(`notify for queue ${index}, which is not ready`);
    if (this.status & STATUS_DRIVER_OK) this.serve(index);
  }

  /** Serves every available chain of queue `index`, then interrupts if the driver wants it. */
  private serve(index: number): void {
    const ring = this.queues[index]!.ring!;
    const old = ring.usedIdx;
    for (let n = 0; n < CHAINS_PER_NOTIFY; n++) {
      const chain = ring.pop();
      if (!chain) {
        // With EVENT_IDX, publish how far the device got, then look again
        // (the driver may have added buffers meanwhile and not notified).
        ring.publishAvailEvent();
        if (ring.hasWork()) continue;
        break;
      }
      const len = this.backend.handle(index, chain);
      this.stats.chains++;
      if (len === HOLD) continue; // the back-end completes it later (completeHeld)
      ring.push(chain.head, Math.max(0, Math.min(len, chain.writableLength)));
    }
    // (On an error above, the device enters DEVICE_NEEDS_RESET instead.)
    if (ring.needsInterrupt(old)) this.raise(VIRTIO_MMIO_INT_VRING);
  }

  private raise(bits: number): void {
    this.interruptStatus |= bits;
    this.stats.interrupts++;
    this.updateIrq();
  }

  /**
   * Drives the line from InterruptStatus, on every used-buffer or
   * configuration interrupt and every InterruptACK, as QEMU's
   * virtio_update_irq / virtio_notify do: each is a request for the PLIC
   * (device.ts, IrqLine), so buffers used while the driver handles the last
   * interrupt interrupt it again after its completion.
   */
  private updateIrq(): void {
    this.irq(this.interruptStatus !== 0);
  }

  /**
   * Enters DEVICE_NEEDS_RESET for a driver error (VirtioError, DmaError) or,
   * defensively, any other failure: the guest sees a broken device, the host
   * does not see an exception.
   */
  private fail(e: unknown): void {
    const kind = e instanceof VirtioError || e instanceof DmaError ? '' : 'internal error: ';
    const message = `${this.name}: ${kind}${e instanceof Error ? e.message : String(e)}`;
    this.stats.deviceErrors++;
    this.stats.lastError = message;
    if (this.needsReset) return;
    this.needsReset = true;
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    this.raise(VIRTIO_MMIO_INT_CONFIG);
    try {
      this.onError(message);
    } catch {
      // a logger's failure is not the guest's
    }
  }

  /** Device reset: Status 0 (the driver's reset) — features, queues, interrupts, error state. */
  private resetDevice(): void {
    this.status = 0;
    this.driverFeatures = 0n;
    this.queueSel = 0;
    this.needsReset = false;
    for (const q of this.queues) q.reset();
    this.interruptStatus = 0;
    this.updateIrq();
    this.backend.reset();
  }

  /**
   * The device's configuration changed (e.g. a resized disk): bumps
   * ConfigGeneration and sends a configuration-change interrupt.
   */
  configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    if (this.status & STATUS_DRIVER_OK) this.raise(VIRTIO_MMIO_INT_CONFIG);
  }

  private readConfig(offset: number, size: number): number {
    const cfg = this.backend.config();
    if (offset + size > cfg.length) return 0;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + cfg[offset + i]!;
    return v;
  }

  // ---- statistics and snapshots ----------------------------------------------------

  metrics(): TransportMetrics & { device: Metrics } {
    return { ...this.stats, device: this.backend.metrics() };
  }

  save(): object {
    return {
      legacy: this.legacy,
      deviceId: this.backend.deviceId,
      status: this.status,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: [Number(this.driverFeatures & 0xffff_ffffn), Number(this.driverFeatures >> 32n)],
      queueSel: this.queueSel,
      interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration,
      guestPageSize: this.guestPageSize,
      shmSel: this.shmSel,
      needsReset: this.needsReset,
      queues: this.queues.map((q) => q.save()),
      deviceVersion: this.backend.stateVersion,
      device: this.backend.save(),
    };
  }

  restore(state: object): void {
    const who = this.name;
    if (boolField(state, 'legacy', who) !== this.legacy) throw new DeviceStateError(`${who}: snapshot is of the other transport version`);
    if (uintField(state, 'deviceId', who) !== this.backend.deviceId) throw new DeviceStateError(`${who}: snapshot is of another device type`);
    const deviceVersion = uintField(state, 'deviceVersion', who, 0xffff);
    if (deviceVersion !== this.backend.stateVersion) {
      throw new DeviceStateError(`${who}: snapshot field 'deviceVersion': ${this.backend.name} state version ${deviceVersion}, this model reads version ${this.backend.stateVersion}`);
    }
    const status = uintField(state, 'status', who, 0xff);
    const deviceFeaturesSel = uintField(state, 'deviceFeaturesSel', who);
    const driverFeaturesSel = uintField(state, 'driverFeaturesSel', who);
    const [lo, hi] = uintArrayField(state, 'driverFeatures', who, 0xffff_ffff, 2);
    const queueSel = uintField(state, 'queueSel', who);
    const interruptStatus = uintField(state, 'interruptStatus', who, 3);
    const configGeneration = uintField(state, 'configGeneration', who);
    const guestPageSize = uintField(state, 'guestPageSize', who);
    const shmSel = uintField(state, 'shmSel', who);
    const needsReset = boolField(state, 'needsReset', who);
    const queues = (state as { queues?: unknown }).queues;
    if (!Array.isArray(queues) || queues.length !== this.queues.length) {
      throw new DeviceStateError(`${who}: snapshot field 'queues' is not an array of ${this.queues.length} queues`);
    }
    const loaders = queues.map((s) => QueueState.parse(s, who));
    const device = (state as { device?: unknown }).device;
    if (typeof device !== 'object' || device === null) throw new DeviceStateError(`${who}: snapshot lacks 'device'`);

    // Rebuild the rings on scratch queues first: a snapshot whose enabled rings
    // do not fit this machine's RAM is rejected before anything changes.
    const driverFeatures = BigInt(lo!) | (BigInt(hi!) << 32n);
    const f = driverFeatures & this.deviceFeatures;
    const ringFeatures = { indirect: (f & bit(VIRTIO_F_INDIRECT_DESC)) !== 0n, eventIdx: (f & bit(VIRTIO_F_EVENT_IDX)) !== 0n };
    const fresh = this.queues.map((q, i) => {
      const n = new QueueState(q.maxSize);
      const { lastAvail, usedIdx } = loaders[i]!(n);
      if (n.ready) {
        const layout = this.legacy ? legacyLayout(n.num, n.pfn, guestPageSize, n.align) : n.modernLayout();
        try {
          checkLayout(this.mem, layout, n.maxSize);
        } catch (e) {
          throw new DeviceStateError(`${who}: queue ${i} in the snapshot is unusable: ${(e as Error).message}`, { cause: e });
        }
        n.ring = new SplitVirtqueue(this.mem, layout, ringFeatures);
        n.ring.lastAvail = lastAvail;
        n.ring.usedIdx = usedIdx;
      }
      return n;
    });
    this.backend.restore(device);

    this.status = status;
    this.deviceFeaturesSel = deviceFeaturesSel;
    this.driverFeaturesSel = driverFeaturesSel;
    this.driverFeatures = driverFeatures;
    this.queueSel = queueSel;
    this.interruptStatus = interruptStatus;
    this.configGeneration = configGeneration;
    this.guestPageSize = guestPageSize;
    this.shmSel = shmSel;
    this.needsReset = needsReset;
    fresh.forEach((n, i) => {
      const q = this.queues[i]!;
      q.num = n.num;
      q.ready = n.ready;
      q.addr.set(n.addr);
      q.pfn = n.pfn;
      q.align = n.align;
      q.ring = n.ring;
    });
    this.updateIrq();
  }
}
