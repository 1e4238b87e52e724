// Disk images for snapshot and storage-migration tests: what the guest sees
// through an image and its parent chain, fresh VHDs, and whether the ext2
// file system a guest left on one checks clean.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { createVhdFile, openImage } from '../../drivers/vhd/chain.ts';

/** Every byte the image (with its parent chain) gives the guest. */
export function contents(path: string): Buffer {
  const d = openImage(path, { readOnly: true });
  try {
    const b = Buffer.alloc(d.size);
    d.read(0, b);
    return b;
  } finally {
    d.close();
  }
}

/** A new empty dynamic VHD `name` in `dir` (1 MiB unless told). */
export function newVhd(dir: string, name: string, size = 1 << 20): string {
  const p = join(dir, name);
  createVhdFile(p, { size, type: 'dynamic' });
  return p;
}

/**
 * The ext2 file system on VHD `path` (and its parents) checks clean on the
 * host: flattened to `dir/name.img` by `hv vhd convert`, then `e2fsck -fn`
 * (skipped where e2fsprogs is not installed).
 */
export function expectExt2Clean(path: string, dir: string, name: string): void {
  const flat = join(dir, `${name}.img`);
  expect(spawnSync(process.execPath, ['bin/hv.js', 'vhd', 'convert', '-O', 'raw', path, flat]).status).toBe(0);
  const fsck = spawnSync('e2fsck', ['-fn', flat], { encoding: 'utf8' });
  if (!fsck.error) expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
}
