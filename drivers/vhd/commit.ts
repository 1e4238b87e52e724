// Merges a differencing disk into its parent (`hv vhd commit`): every sector
// the child holds is written to the parent, the parent is flushed, and only
// then is the child emptied. A crash at any point leaves the chain reading
// exactly as before the commit (the child still holds everything not yet
// durable in the parent); running commit again finishes the job.
import { VhdError } from './errors.ts';
import type { DynamicVhd } from './dynamic.ts';
import { noProgress, type Progress } from './progress.ts';

export interface CommitOptions {
  /** Empty the child afterwards, as qemu-img commit does (default true; -d turns it off). */
  empty?: boolean;
  onProgress?: Progress;
  /** Bytes a copy step (default 1 MiB). */
  chunk?: number;
}

export function commitChild(child: DynamicVhd, opts: CommitOptions = {}): { bytes: number } {
  const parent = child.parent;
  if (child.type !== 'differencing' || !parent) throw new VhdError('unsupported', 'only a differencing disk can be committed');
  if (parent.readOnly) throw new VhdError('unsupported', 'the parent is open read-only');
  const extents = child.ownedExtents();
  const total = extents.reduce((n, e) => n + e.length, 0);
  const beyond = extents.find((e) => e.start + e.length > parent.size);
  if (beyond) throw new VhdError('unsupported', `the child holds data at ${beyond.start}, past the end of its ${parent.size}-byte parent`);
  const onProgress = opts.onProgress ?? noProgress;
  const chunk = opts.chunk ?? 1 << 20;
  const buf = new Uint8Array(chunk);
  let done = 0;
  onProgress(0, total);
  for (const e of extents) {
    for (let off = 0; off < e.length; off += chunk) {
      const part = buf.subarray(0, Math.min(chunk, e.length - off));
      child.read(e.start + off, part);
      parent.write(e.start + off, part);
      done += part.length;
      onProgress(done, total);
    }
  }
  parent.flush();
  if (opts.empty ?? true) child.discardAllBlocks();
  onProgress(total, total);
  return { bytes: total };
}
