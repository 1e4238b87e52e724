// Storage live migration (Storage vMotion, QEMU's drive-mirror): a disk
// copied to another back end while the guest keeps using it.
//
// The mirror stands in for the source: reads come from the source, writes
// go to the source and, where the copy has already passed (a chunk marked
// in the copied bitmap), to the target as well; a write to a chunk not yet
// copied reaches the target when the copy gets there. step() copies the
// next chunk. Requests and steps run on one thread (the root partition's),
// so a chunk is never copied in the middle of a write. Once every chunk is
// copied the two read the same and the owner switches the guest to the
// target (SwitchableDevice.switchTo) and closes the source.
//
// A target that fails a write ends the job, not the guest: the guest's
// write reached the source, the mirror stops writing the target, and the
// error comes out of the next step().
import { BlockError, type BlockDevice } from './device.ts';

export const DEFAULT_MIRROR_CHUNK = 64 * 1024;

export interface MirrorOptions {
  /** Bytes copied a step: a multiple of 512 (default 64 KiB). */
  chunk?: number;
  /** The target reads as zeros (a new image): chunks of zeros are not written to it. */
  targetZeroed?: boolean;
}

export class MirrorDevice implements BlockDevice {
  readonly size: number;
  private readonly chunk: number;
  private readonly copied: Uint8Array;
  private next = 0;
  private left: number;
  private failed: Error | null = null;
  /** Guest writes that went to both back ends. */
  mirroredWrites = 0;

  constructor(
    readonly source: BlockDevice,
    readonly target: BlockDevice,
    private readonly opts: MirrorOptions = {},
  ) {
    if (target.size !== source.size) throw new BlockError(`the target is ${target.size} bytes, the disk ${source.size}`);
    if (target.readOnly) throw new BlockError('the target is read-only');
    this.size = source.size;
    this.chunk = opts.chunk ?? DEFAULT_MIRROR_CHUNK;
    if (!Number.isInteger(this.chunk) || this.chunk <= 0 || this.chunk % 512 !== 0) throw new BlockError(`mirror chunk ${this.chunk} is not a multiple of 512`);
    this.copied = new Uint8Array(Math.ceil(this.size / this.chunk));
    this.left = this.copied.length;
  }

  get readOnly(): boolean {
    return this.source.readOnly;
  }
  /** True once every chunk is on the target (and no target write failed). */
  get done(): boolean {
    return this.left === 0 && this.failed === null;
  }
  /** Bytes copied so far and in all. */
  progress(): { copied: number; total: number } {
    return { copied: Math.min(this.size, (this.copied.length - this.left) * this.chunk), total: this.size };
  }

  read(offset: number, buf: Uint8Array): void {
    this.source.read(offset, buf);
  }

  write(offset: number, buf: Uint8Array): void {
    this.source.write(offset, buf);
    if (this.failed) return;
    // The parts of the write that fall in chunks already copied.
    const end = offset + buf.length;
    let mirrored = false;
    for (let c = Math.floor(offset / this.chunk); c * this.chunk < end; c++) {
      if (!this.copied[c]) continue;
      const from = Math.max(offset, c * this.chunk);
      const to = Math.min(end, (c + 1) * this.chunk);
      if (!this.targetWrite(from, buf.subarray(from - offset, to - offset))) return;
      mirrored = true;
    }
    if (mirrored) this.mirroredWrites++;
  }

  /** Copies the next chunk not yet copied; true when none is left. Throws the target's error if it failed. */
  step(): boolean {
    if (this.failed) throw this.failed;
    while (this.next < this.copied.length && this.copied[this.next]) this.next++;
    if (this.next >= this.copied.length) return true;
    const c = this.next;
    const at = c * this.chunk;
    const buf = new Uint8Array(Math.min(this.chunk, this.size - at));
    this.source.read(at, buf);
    if (!(this.opts.targetZeroed && isZero(buf)) && !this.targetWrite(at, buf)) throw this.failed!;
    this.copied[c] = 1;
    this.left--;
    return this.left === 0;
  }

  flush(): void {
    this.source.flush();
    if (!this.failed) this.target.flush();
  }

  /** Ends the job before the switch: closes the target (the owner deletes its file) and hands the source back. */
  abandon(): BlockDevice {
    this.target.close();
    return this.source;
  }

  /** The partition ended during the copy: both back ends close. */
  close(): void {
    try {
      this.source.close();
    } finally {
      this.target.close();
    }
  }

  private targetWrite(at: number, data: Uint8Array): boolean {
    try {
      this.target.write(at, data);
      return true;
    } catch (e) {
      this.failed = e instanceof Error ? e : new Error(String(e));
      return false;
    }
  }
}

function isZero(b: Uint8Array): boolean {
  const words = new BigUint64Array(b.buffer, b.byteOffset, b.length >> 3);
  for (const w of words) if (w !== 0n) return false;
  return true;
}
