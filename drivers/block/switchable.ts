// A disk whose back end can be replaced while the guest runs: what a
// partition's device model holds, so that a live snapshot can move the
// guest onto a new differencing child, and storage migration onto another
// file, without the device model (virtio-blk) knowing (docs/migration.md).
//
// Requests are synchronous and served on the root partition's thread, so a
// switch between two requests is atomic: no request sees two back ends.
import { BlockError, type BlockDevice } from './device.ts';

export class SwitchableDevice implements BlockDevice {
  constructor(private dev: BlockDevice) {}

  /** The back end requests go to now. */
  get current(): BlockDevice {
    return this.dev;
  }
  get size(): number {
    return this.dev.size;
  }
  get readOnly(): boolean {
    return this.dev.readOnly;
  }
  read(offset: number, buf: Uint8Array): void {
    this.dev.read(offset, buf);
  }
  write(offset: number, buf: Uint8Array): void {
    this.dev.write(offset, buf);
  }
  flush(): void {
    this.dev.flush();
  }
  close(): void {
    this.dev.close();
  }

  /**
   * Sends every later request to `next` and returns the back end it
   * replaces (the caller closes it). The guest was told the disk's size
   * and whether it is read-only: `next` must keep both.
   */
  switchTo(next: BlockDevice): BlockDevice {
    if (next.size !== this.dev.size) throw new BlockError(`the new back end is ${next.size} bytes, the disk ${this.dev.size}`);
    if (next.readOnly !== this.dev.readOnly) throw new BlockError(`the new back end is ${next.readOnly ? '' : 'not '}read-only, the disk is${this.dev.readOnly ? '' : ' not'}`);
    const old = this.dev;
    this.dev = next;
    return old;
  }
}
