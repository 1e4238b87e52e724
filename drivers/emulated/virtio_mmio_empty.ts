// An unpopulated virtio-mmio slot (virtio spec 1.2 section 4.2.2). The device
// tree lists all eight slots, as QEMU's does, and guests probe each one: an
// empty slot must answer with the magic value and DeviceID 0 ("no device"),
// not fault. Linux's virtio_mmio then skips it with -ENODEV. Everything else
// reads 0 and writes are ignored.

import { MEMMAP } from '../board/memmap.ts';
import type { AccessSize, MmioDevice } from './device.ts';

export const VIRTIO_MMIO_MAGIC_VALUE = 0x000;
export const VIRTIO_MMIO_VERSION = 0x004;
export const VIRTIO_MMIO_DEVICE_ID = 0x008;
export const VIRTIO_MMIO_VENDOR_ID = 0x00c;

/** "virt" in little-endian ASCII. */
export const VIRTIO_MAGIC = 0x7472_6976;
/** Version 2: the non-legacy (virtio 1.x) register layout. */
export const VIRTIO_MMIO_VERSION_MODERN = 2;
/** "QEMU" in little-endian ASCII, the vendor id QEMU's transport reports. */
export const VIRTIO_VENDOR_QEMU = 0x554d_4551;

export class EmptyVirtioSlot implements MmioDevice {
  readonly stateVersion = 1;
  readonly size = MEMMAP.virtio.size;

  constructor(readonly name: string) {}

  read(offset: number, size: AccessSize): number {
    if (size !== 4) return 0; // the transport's registers are 32-bit
    switch (offset) {
      case VIRTIO_MMIO_MAGIC_VALUE:
        return VIRTIO_MAGIC;
      case VIRTIO_MMIO_VERSION:
        return VIRTIO_MMIO_VERSION_MODERN;
      case VIRTIO_MMIO_VENDOR_ID:
        return VIRTIO_VENDOR_QEMU;
      default:
        return 0; // DeviceID 0: nothing here
    }
  }

  write(_offset: number, _size: AccessSize, _value: number): void {}

  reset(): void {}

  save(): object {
    return {};
  }

  restore(_state: object): void {}
}
