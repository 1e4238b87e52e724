// Storage live migration of one disk (docs/migration.md, "Storage
// migration"): the running partition's disk is copied to a new file while
// the guest keeps using it, then the guest is switched to the copy and the
// old file closed. The copy is drivers/block/mirror.ts; this creates the
// target, puts the mirror in front of the guest, takes it away again and
// points the partition's spec at the new file. Both hosts use it; each
// paces step() its own way (between guest rounds on the deterministic
// host, between VM exits on the threaded root partition's thread), but
// requests and steps always run on one thread, so a chunk is never copied
// in the middle of a guest write.
import { existsSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { BlockError, type BlockDevice } from '../../drivers/block/device.ts';
import { MirrorDevice } from '../../drivers/block/mirror.ts';
import { RawDevice } from '../../drivers/block/raw.ts';
import { SwitchableDevice } from '../../drivers/block/switchable.ts';
import { createVhdFile, openVhd } from '../../drivers/vhd/chain.ts';
import type { PartitionSpec } from '../host/spec.ts';
import { InputError } from '../errors.ts';

export type DiskFormat = 'raw' | 'vpc';

/** A partition that runs in this process: its spec (whose disk paths follow the switches) and its disks as opened. */
export interface LiveDisks {
  spec: PartitionSpec;
  disks: readonly BlockDevice[];
}

export interface DiskMove {
  /** The partition's disk index. */
  readonly disk: number;
  readonly path: string;
  readonly format: DiskFormat;
  readonly mirror: MirrorDevice;
  /** 'copying' until finish() switched the guest ('done') or abort() gave up ('aborted'). */
  readonly state: 'copying' | 'done' | 'aborted';
  /** Copies one more chunk; true when the copy is complete (then call finish). Throws the new image's write error. */
  step(): boolean;
  /** Switches the guest to the copy, closes the old image and points the spec at the new one. */
  finish(): void;
  /** Copies what is left and finishes (the guest ended: the new file is made whole). */
  complete(): void;
  /** Gives up: the guest stays on the old image, the copy is deleted. */
  abort(): void;
}

/** The format a target path names: .vhd/.vpc is VHD, anything else raw (as `hv vhd convert` reads -O). */
export function formatOfPath(path: string): DiskFormat {
  return /\.(vhd|vpc)$/i.test(path) ? 'vpc' : 'raw';
}

/** Starts moving disk `index` of `live` (a SwitchableDevice, as every partition disk is) to a new image at `target`. */
export function startDiskMove(live: LiveDisks, index: number, target: string, format: DiskFormat = formatOfPath(target), opts: { chunk?: number } = {}): DiskMove {
  const disk = live.disks[index];
  if (!Number.isInteger(index) || disk === undefined) throw new InputError(`there is no disk ${index} (the partition has ${live.disks.length})`);
  if (!(disk instanceof SwitchableDevice)) throw new InputError(`disk ${index} cannot change its back end`);
  if (disk.current instanceof MirrorDevice) throw new InputError(`disk ${index} is being moved already`);
  if (disk.readOnly) throw new InputError(`disk ${index} is read-only: it is not moved; copy its image (hv vhd convert) and use the copy`);
  const path = resolve(target);
  if (existsSync(path)) throw new InputError(`'${target}' exists: a disk is moved to a new file`);
  let dest: BlockDevice;
  try {
    if (format === 'raw') {
      dest = RawDevice.create(path, disk.size);
    } else {
      createVhdFile(path, { size: disk.size, type: 'dynamic' });
      dest = openVhd(path);
    }
  } catch (e) {
    if (existsSync(path)) unlinkSync(path);
    const why = e instanceof BlockError ? e.message : ((e as NodeJS.ErrnoException).code ?? (e as Error).message);
    throw new InputError(`cannot create '${target}': ${why}`, { cause: e });
  }
  const mirror = new MirrorDevice(disk.current, dest, { chunk: opts.chunk, targetZeroed: true });
  disk.switchTo(mirror);
  let state: DiskMove['state'] = 'copying';
  const job: DiskMove = {
    disk: index,
    path,
    format,
    mirror,
    get state() {
      return state;
    },
    step: () => mirror.step(),
    finish: () => {
      if (!mirror.done) throw new InputError('the copy is not complete');
      dest.flush(); // if this fails the job is still copying: abort() keeps the guest on the old image
      state = 'done';
      disk.switchTo(dest);
      mirror.source.close();
      live.spec.disks[index] = { ...live.spec.disks[index]!, path, format };
    },
    complete: () => {
      while (!mirror.step());
      job.finish();
    },
    abort: () => {
      if (state !== 'copying') return;
      state = 'aborted';
      disk.switchTo(mirror.abandon());
      unlinkSync(path);
    },
  };
  return job;
}

/**
 * Copies in turns, on a thread that has other work (the threaded host's
 * root partition services VM exits on it): chunks for at most `sliceMs`,
 * then a turn for everything else, until the copy is complete or the job
 * was settled meanwhile (the partition ended). True when the copy is
 * complete: the caller finishes the job. `onProgress` about every
 * `progressMs` (100) while it copies.
 */
export async function copyInTurns(job: DiskMove, o: { sliceMs?: number; onProgress?: (copied: number, total: number) => void; progressMs?: number } = {}): Promise<boolean> {
  const sliceMs = o.sliceMs ?? 1;
  let reported = -Infinity;
  while (job.state === 'copying') {
    const end = performance.now() + sliceMs;
    let done: boolean;
    do done = job.step();
    while (!done && performance.now() < end);
    if (done) return true;
    if (o.onProgress && performance.now() - reported >= (o.progressMs ?? 100)) {
      reported = performance.now();
      const { copied, total } = job.mirror.progress();
      o.onProgress(copied, total);
    }
    await new Promise<void>((r) => setImmediate(r));
  }
  return false;
}
