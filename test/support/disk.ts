// Disk images for snapshot and storage-migration tests: what the guest sees
// through an image and its parent chain, and fresh VHDs.
import { join } from 'node:path';
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
