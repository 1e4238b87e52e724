// Random-access files under the block devices: a Node implementation over a
// file descriptor and an in-memory one (browser, tests). Disk formats are
// written against RandomAccessFile so tests can interpose on every write
// (fault injection for crash safety).
import * as fs from 'node:fs';

export interface RandomAccessFile {
  /** Reads up to buf.length bytes at pos; returns bytes read (short at EOF). */
  read(buf: Uint8Array, pos: number): number;
  write(buf: Uint8Array, pos: number): void;
  size(): number;
  truncate(size: number): void;
  /** Durability barrier (fsync). */
  sync(): void;
  close(): void;
}

export class NodeFile implements RandomAccessFile {
  private constructor(private fd: number, readonly path: string) {}

  static open(path: string, mode: 'r' | 'r+' | 'w+'): NodeFile {
    return new NodeFile(fs.openSync(path, mode), path);
  }
  read(buf: Uint8Array, pos: number): number {
    let done = 0;
    while (done < buf.length) {
      const n = fs.readSync(this.fd, buf, done, buf.length - done, pos + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }
  write(buf: Uint8Array, pos: number): void {
    let done = 0;
    while (done < buf.length) done += fs.writeSync(this.fd, buf, done, buf.length - done, pos + done);
  }
  size(): number {
    return fs.fstatSync(this.fd).size;
  }
  truncate(size: number): void {
    fs.ftruncateSync(this.fd, size);
  }
  sync(): void {
    fs.fsyncSync(this.fd);
  }
  close(): void {
    fs.closeSync(this.fd);
  }
}

export class MemoryFile implements RandomAccessFile {
  private bytes: Uint8Array;
  private length: number;
  constructor(initial?: Uint8Array) {
    this.bytes = initial ? initial.slice() : new Uint8Array(0);
    this.length = this.bytes.length;
  }
  read(buf: Uint8Array, pos: number): number {
    const n = Math.max(0, Math.min(buf.length, this.length - pos));
    buf.set(this.bytes.subarray(pos, pos + n));
    return n;
  }
  write(buf: Uint8Array, pos: number): void {
    this.ensure(pos + buf.length);
    this.bytes.set(buf, pos);
    this.length = Math.max(this.length, pos + buf.length);
  }
  size(): number {
    return this.length;
  }
  truncate(size: number): void {
    this.ensure(size);
    if (size < this.length) this.bytes.fill(0, size, this.length);
    this.length = size;
  }
  sync(): void {}
  close(): void {}
  /** A copy of the current contents (tests). */
  contents(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
  private ensure(n: number): void {
    if (n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(n, this.bytes.length * 2));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
}
