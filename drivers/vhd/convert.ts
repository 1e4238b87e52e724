// Copies one block device onto another (`hv vhd convert`), skipping ranges
// that read as zeros: the destination is assumed to read zeros where it is
// not written (a fresh sparse raw file, fixed VHD, or dynamic VHD), so zero
// ranges stay holes or unallocated blocks.
import type { BlockDevice } from '../block/device.ts';
import { isZero } from './bytes.ts';
import { noProgress, type Progress } from './progress.ts';

export interface CopyOptions {
  /** Bytes read at a time (default 1 MiB, and at least `grain`). */
  chunk?: number;
  /** Zero detection granularity: the destination's block size for dynamic VHDs (default 64 KiB). */
  grain?: number;
  onProgress?: Progress;
}

export interface CopyResult {
  written: number;
  skipped: number;
}

export function copyDisk(src: BlockDevice, dst: BlockDevice, opts: CopyOptions = {}): CopyResult {
  if (dst.size < src.size) throw new RangeError(`destination (${dst.size} bytes) is smaller than the source (${src.size} bytes)`);
  const grain = opts.grain ?? 64 * 1024;
  const chunk = Math.max(grain, Math.floor((opts.chunk ?? 1 << 20) / grain) * grain);
  const onProgress = opts.onProgress ?? noProgress;
  const buf = new Uint8Array(chunk);
  const result: CopyResult = { written: 0, skipped: 0 };
  onProgress(0, src.size);
  for (let off = 0; off < src.size; off += chunk) {
    const data = buf.subarray(0, Math.min(chunk, src.size - off));
    src.read(off, data);
    // Write maximal runs of grains that are not all zero.
    let runStart = -1;
    for (let g = 0; g < data.length; g += grain) {
      const part = data.subarray(g, Math.min(data.length, g + grain));
      if (!isZero(part)) {
        if (runStart < 0) runStart = g;
        continue;
      }
      result.skipped += part.length;
      if (runStart >= 0) {
        dst.write(off + runStart, data.subarray(runStart, g));
        result.written += g - runStart;
        runStart = -1;
      }
    }
    if (runStart >= 0) {
      dst.write(off + runStart, data.subarray(runStart));
      result.written += data.length - runStart;
    }
    onProgress(Math.min(src.size, off + chunk), src.size);
  }
  dst.flush();
  return result;
}
