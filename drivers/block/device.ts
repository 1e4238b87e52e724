// The block-device interface every disk backend implements (raw images, VHD
// fixed/dynamic/differencing). Device models (virtio-blk, VMBus storage) take
// a BlockDevice and never know which format is underneath.
//
// The interface is synchronous on purpose: device models run in the root
// partition's worker and service one request at a time; Node's fs *Sync
// calls and the browser's FileSystemSyncAccessHandle both fit it.

export const SECTOR_SIZE = 512;

export interface BlockDevice {
  /** Virtual size in bytes, a multiple of SECTOR_SIZE. */
  readonly size: number;
  readonly readOnly: boolean;
  /** Reads buf.length bytes at byte offset `offset` (both sector-aligned). */
  read(offset: number, buf: Uint8Array): void;
  /** Writes buf at byte offset `offset` (both sector-aligned). */
  write(offset: number, buf: Uint8Array): void;
  /** Makes every completed write durable. */
  flush(): void;
  close(): void;
}

/** Raised for requests a device cannot serve (out of range, read-only...). */
export class BlockError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BlockError';
  }
}

/** Checks a request against a device's geometry; throws BlockError. */
export function checkRequest(dev: BlockDevice, offset: number, length: number, write: boolean): void {
  if (write && dev.readOnly) throw new BlockError('write to a read-only device');
  if (offset % SECTOR_SIZE !== 0 || length % SECTOR_SIZE !== 0) {
    throw new BlockError(`request not sector-aligned: offset ${offset}, length ${length}`);
  }
  if (offset < 0 || offset + length > dev.size) {
    throw new BlockError(`request beyond end of device: offset ${offset}, length ${length}, size ${dev.size}`);
  }
}
