// The root partition's files in the browser: an in-memory file system that
// the page fills (guest images, firmware, the user's kernel and disks) and
// reads back (a disk after the guest wrote it). The browser bundles resolve
// node:fs to fs.ts, a view of this store with the synchronous calls the
// shared loaders and disk drivers make, so they run unchanged on it.
import { MemoryFile } from '../../../drivers/block/file.ts';

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
  data: MemoryFile;
  mtime: Date;
}

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

  /** Creates or replaces `path` with a copy of `bytes`. */
  put(path: string, bytes: Uint8Array): void {
    this.files.set(normalize(path), { data: new MemoryFile(bytes), mtime: new Date() });
  }
  /** A copy of `path`'s bytes (a disk the guest wrote, to download). */
  get(path: string): Uint8Array {
    return this.open(path).data.contents();
  }
  remove(path: string): void {
    this.files.delete(normalize(path));
  }
  list(): { path: string; size: number }[] {
    return [...this.files].map(([path, f]) => ({ path, size: f.data.size() }));
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
  create(path: string): StoredFile {
    this.put(path, new Uint8Array(0));
    return this.open(path);
  }
}

/** The root thread's store (one per thread; only the root thread has files). */
export const memfs = new MemFs();
