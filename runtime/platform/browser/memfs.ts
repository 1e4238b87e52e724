// The root partition's files in the browser: an in-memory file system that
// the page fills (guest images, firmware, the user's kernel and disks) and
// reads back (a disk after the guest wrote it). The browser bundles resolve
// node:fs to fs.ts, a view of this store with the synchronous calls the
// shared loaders and disk drivers make, so they run unchanged on it.
//
// What the page puts (images, disks) lives in shared memory (SharedFile) so
// that the VMBus endpoint worker's store can hold the same files
// (runtime/platform/browser.ts mirrors them there); files the host creates
// (a swap file) stay the thread's own.
import { MemoryFile, type RandomAccessFile } from '../../../drivers/block/file.ts';
import { SharedFile, type SharedFileHandle } from './shared-file.ts';

/** A failed call, shaped as Node's (callers read `code`). */
export class FsError extends Error {
  constructor(
    readonly code: 'ENOENT' | 'EBADF' | 'EINVAL',
    what: string,
  ) {
    super(`${code}: ${what}`);
    this.name = 'FsError';
  }
}

export interface StoredFile {
  data: RandomAccessFile & { contents(): Uint8Array };
  mtime: Date;
}

/** A shared file put (its handle) or removed (null), for another thread's store. */
export type SharedChange = [path: string, handle: SharedFileHandle | null];

/** Absolute, normalized paths: the store has no directories and no cwd but '/'. */
export function normalize(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return '/' + out.join('/');
}

export class MemFs {
  private readonly files = new Map<string, StoredFile>();
  private readonly watchers = new Set<(c: SharedChange) => void>();

  /** Creates or replaces `path` with a copy of `bytes`, in shared memory. */
  put(path: string, bytes: Uint8Array): void {
    const data = SharedFile.from(bytes);
    this.files.set(normalize(path), { data, mtime: new Date() });
    for (const w of this.watchers) w([normalize(path), data.handle]);
  }
  /** A copy of `path`'s bytes (a disk the guest wrote, to download). */
  get(path: string): Uint8Array {
    return this.open(path).data.contents();
  }
  remove(path: string): void {
    const f = this.files.get(normalize(path));
    this.files.delete(normalize(path));
    if (f?.data instanceof SharedFile) for (const w of this.watchers) w([normalize(path), null]);
  }
  list(): { path: string; size: number }[] {
    return [...this.files].map(([path, f]) => ({ path, size: f.data.size() }));
  }

  // ---- for another thread's store (browser.ts) ----

  /** The shared files now, and each change from here on to `watch` (until the returned call). */
  share(watch: (c: SharedChange) => void): { now: SharedChange[]; stop: () => void } {
    const now: SharedChange[] = [];
    for (const [path, f] of this.files) if (f.data instanceof SharedFile) now.push([path, f.data.handle]);
    this.watchers.add(watch);
    return { now, stop: () => this.watchers.delete(watch) };
  }
  /** Takes another thread's shared file (or its removal) into this store. */
  adopt([path, handle]: SharedChange): void {
    if (handle) this.files.set(path, { data: new SharedFile(handle), mtime: new Date() });
    else this.files.delete(path);
  }

  // ---- for fs.ts ----

  lookup(path: string): StoredFile | undefined {
    return this.files.get(normalize(path));
  }
  open(path: string): StoredFile {
    const f = this.lookup(path);
    if (!f) throw new FsError('ENOENT', `no such file, '${path}'`);
    return f;
  }
  /** An empty file of this thread's own (a swap file: never another thread's). */
  create(path: string): StoredFile {
    this.remove(path); // another thread lets go of a shared file of that name
    const f: StoredFile = { data: new MemoryFile(), mtime: new Date() };
    this.files.set(normalize(path), f);
    return f;
  }
}

/** The root thread's store (one per thread; only the root thread has files). */
export const memfs = new MemFs();
