// A file of the browser's in-memory store (memfs.ts) whose bytes are in
// shared memory, so that another Web Worker can hold the same file: the
// VMBus endpoint worker serves a disk image the page put in the root
// thread's store (docs/vmbus.md). The bytes are a growable
// SharedArrayBuffer (a VHD grows as its guest writes); the length is a
// shared cell. Two threads never write one file at once: a disk lent to the
// endpoint worker is refused I/O on the root (LentDisk) until it comes back.
import type { RandomAccessFile } from '../../../drivers/block/file.ts';

/** What another thread needs to open the same file (structured-cloneable). */
export interface SharedFileHandle {
  bytes: SharedArrayBuffer;
  length: SharedArrayBuffer;
}

/** Address space reserved per file, not memory: a disk image may grow to it. */
const MAX_BYTES = 2 ** 32;

export class SharedFile implements RandomAccessFile {
  private readonly bytes: Uint8Array;
  private readonly len: BigInt64Array;

  constructor(readonly handle: SharedFileHandle) {
    this.bytes = new Uint8Array(handle.bytes); // tracks the buffer's growth
    this.len = new BigInt64Array(handle.length);
  }

  static from(initial: Uint8Array): SharedFile {
    const bytes = new SharedArrayBuffer(initial.length, { maxByteLength: Math.max(MAX_BYTES, initial.length) });
    new Uint8Array(bytes).set(initial);
    const f = new SharedFile({ bytes, length: new SharedArrayBuffer(8) });
    Atomics.store(f.len, 0, BigInt(initial.length));
    return f;
  }

  read(buf: Uint8Array, pos: number): number {
    const n = Math.max(0, Math.min(buf.length, this.size() - pos));
    buf.set(this.bytes.subarray(pos, pos + n));
    return n;
  }
  write(buf: Uint8Array, pos: number): void {
    this.ensure(pos + buf.length);
    this.bytes.set(buf, pos);
    if (pos + buf.length > this.size()) Atomics.store(this.len, 0, BigInt(pos + buf.length));
  }
  size(): number {
    return Number(Atomics.load(this.len, 0));
  }
  truncate(size: number): void {
    this.ensure(size);
    if (size < this.size()) this.bytes.fill(0, size, this.size());
    Atomics.store(this.len, 0, BigInt(size));
  }
  sync(): void {}
  close(): void {}
  /** A copy of the current contents (a download). */
  contents(): Uint8Array {
    return this.bytes.slice(0, this.size());
  }
  private ensure(n: number): void {
    const b = this.handle.bytes;
    if (n <= b.byteLength) return;
    if (n > b.maxByteLength) throw new RangeError(`a file of the in-memory store cannot grow past ${b.maxByteLength} bytes`);
    b.grow(Math.min(b.maxByteLength, Math.max(n, 2 * b.byteLength)));
  }
}
