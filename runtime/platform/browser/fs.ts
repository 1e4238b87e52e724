// node:fs in the browser bundles: the synchronous calls the shared code
// makes (the image loader, raw and VHD disks, the kernel locator), over the
// in-memory store of memfs.ts. Anything else is absent, so a new use fails
// the bundle instead of the guest.
import { FsError, memfs, normalize, type StoredFile } from './memfs.ts';

interface Fd {
  file: StoredFile;
  pos: number;
  writable: boolean;
}

const fds = new Map<number, Fd>();
let nextFd = 3;

function fd(n: number): Fd {
  const f = fds.get(n);
  if (!f) throw new FsError('EBADF', `bad file descriptor ${n}`);
  return f;
}

function stats(f: StoredFile) {
  return { size: f.data.size(), mtime: f.mtime, isFile: () => true, isDirectory: () => false };
}

export function openSync(path: string, flags: string = 'r'): number {
  const creates = flags.startsWith('w');
  const file = creates ? memfs.create(path) : memfs.open(path);
  fds.set(nextFd, { file, pos: 0, writable: flags !== 'r' });
  return nextFd++;
}

export function closeSync(n: number): void {
  fd(n);
  fds.delete(n);
}

export function readSync(n: number, buf: Uint8Array, offset = 0, length = buf.length - offset, position: number | null = null): number {
  const f = fd(n);
  const got = f.file.data.read(buf.subarray(offset, offset + length), position ?? f.pos);
  if (position === null) f.pos += got;
  return got;
}

export function writeSync(n: number, buf: Uint8Array, offset = 0, length = buf.length - offset, position: number | null = null): number {
  const f = fd(n);
  if (!f.writable) throw new FsError('EBADF', 'file not open for writing');
  f.file.data.write(buf.subarray(offset, offset + length), position ?? f.pos);
  f.file.mtime = new Date();
  if (position === null) f.pos += length;
  return length;
}

export function ftruncateSync(n: number, size = 0): void {
  const f = fd(n);
  if (!f.writable) throw new FsError('EINVAL', 'file not open for writing');
  f.file.data.truncate(size);
}

/** Hypervisor swap removes its file at the partition's end (runtime/machine/swap.ts). */
export function unlinkSync(path: string): void {
  if (!memfs.lookup(path)) throw new FsError('ENOENT', `no such file, '${path}'`);
  memfs.remove(path);
}

export function fsyncSync(n: number): void {
  fd(n); // memory is as durable as it gets here
}

export function fstatSync(n: number) {
  return stats(fd(n).file);
}

export function statSync(path: string) {
  return stats(memfs.open(path));
}

export function existsSync(path: string): boolean {
  return memfs.lookup(path) !== undefined;
}

export function realpathSync(path: string): string {
  memfs.open(path);
  return normalize(path);
}

export function readFileSync(path: string): Uint8Array {
  return memfs.get(path);
}
