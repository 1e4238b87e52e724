// What a virtio device type (blk, net, console...) provides to a transport.
// The transport (mmio.ts) owns the register file, feature negotiation, the
// queues and interrupts; a back-end owns its configuration space and serves
// descriptor chains. Back-ends never see registers, and transports never see
// request formats.

import type { DescriptorChain } from './virtqueue.ts';

// Device status bits (virtio spec 1.2 section 2.1).
export const STATUS_ACKNOWLEDGE = 0x01;
export const STATUS_DRIVER = 0x02;
export const STATUS_DRIVER_OK = 0x04;
export const STATUS_FEATURES_OK = 0x08;
export const STATUS_DEVICE_NEEDS_RESET = 0x40;
export const STATUS_FAILED = 0x80;

// Reserved (device-independent) feature bits (section 6).
export const VIRTIO_F_NOTIFY_ON_EMPTY = 24n;
export const VIRTIO_F_ANY_LAYOUT = 27n;
export const VIRTIO_F_INDIRECT_DESC = 28n;
export const VIRTIO_F_EVENT_IDX = 29n;
export const VIRTIO_F_VERSION_1 = 32n;
export const VIRTIO_F_ACCESS_PLATFORM = 33n;
export const VIRTIO_F_RING_PACKED = 34n;

/** The feature mask of bit `n`. */
export function bit(n: bigint): bigint {
  return 1n << n;
}

/** handle()'s answer for a chain the device keeps, to complete later through attach()'s callback. */
export const HOLD = -1;

/** Statistics counters (not guest-visible, not part of snapshots). */
export type Metrics = Record<string, number>;

export interface VirtioBackend {
  /** Virtio device id (section 5: 1 net, 2 block, 3 console...). */
  readonly deviceId: number;
  /** Short name for logs ("blk"). */
  readonly name: string;
  /** Maximum size of each of the device's queues; the length is the number of queues. */
  readonly queueMaxSizes: readonly number[];
  /** Device-type feature bits offered (the transport adds the ring and version bits). */
  readonly features: bigint;
  /** The current configuration space, little-endian (the transport reads it at offset 0x100). */
  config(): Uint8Array;
  /** A driver write of `size` bytes at `offset` into the configuration space (in range). */
  writeConfig(offset: number, size: number, value: number): void;
  /** May veto a feature set the driver proposes (FEATURES_OK is then refused). */
  acceptFeatures?(features: bigint): boolean;
  /** The driver set DRIVER_OK with these negotiated features. */
  activate(features: bigint): void;
  /**
   * Serves one chain taken from queue `queue`; returns the number of bytes
   * the device wrote into the chain's writable buffers (the used length).
   * Request-level failures (I/O errors, unsupported requests) are reported
   * to the driver in the request; a malformed request (a protocol violation)
   * throws VirtioError and the transport enters DEVICE_NEEDS_RESET.
   */
  handle(queue: number, chain: DescriptorChain): number;
  /**
   * Given once by the transport: completes a chain handle() kept (returned
   * HOLD for) later, with `len` bytes written, and interrupts the driver if
   * it asked. For devices that answer when something happens, not when
   * notified (virtio-balloon's statistics queue).
   */
  attach?(complete: (queue: number, head: number, len: number) => void): void;
  /** Device reset (driver wrote 0 to Status, or board reset). */
  reset(): void;
  /** Version of the state save() returns (see MmioDevice.stateVersion); the transport carries it. */
  readonly stateVersion: number;
  save(): object;
  /** Throws DeviceStateError for a snapshot that does not fit this device. */
  restore(state: object): void;
  metrics(): Metrics;
}
