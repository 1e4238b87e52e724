// Storage live migration of one disk (docs/migration.md, "Storage
// migration"): the running partition's disk is copied to a new file while
// the guest keeps using it, then the guest is switched to the copy and the
// old file closed. The copy is drivers/block/mirror.ts; this creates the
// target, puts the mirror in front of the guest and takes it away again.
// The caller paces step() (between guest rounds, or between exits on the
// root partition's thread) and updates the partition's spec at the end.
import { existsSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { BlockError, type BlockDevice } from '../../drivers/block/device.ts';
import { MirrorDevice } from '../../drivers/block/mirror.ts';
import { RawDevice } from '../../drivers/block/raw.ts';
import { SwitchableDevice } from '../../drivers/block/switchable.ts';
import { createVhdFile, openVhd } from '../../drivers/vhd/chain.ts';
import { InputError } from '../errors.ts';

export type DiskFormat = 'raw' | 'vpc';

export interface DiskMove {
  readonly path: string;
  readonly format: DiskFormat;
  readonly mirror: MirrorDevice;
  /** Copies one more chunk; true when the copy is complete (then call finish). */
  step(): boolean;
  /** Switches the guest to the copy and closes the old image. */
  finish(): void;
  /** Gives up: the guest stays on the old image, the copy is deleted. */
  abort(): void;
}

/** The format a target path names: .vhd/.vpc is VHD, anything else raw (as `hv vhd convert` reads -O). */
export function formatOfPath(path: string): DiskFormat {
  return /\.(vhd|vpc)$/i.test(path) ? 'vpc' : 'raw';
}

/** Starts moving `disk` (a partition's SwitchableDevice) to a new image at `target`. */
export function startDiskMove(disk: BlockDevice, target: string, format: DiskFormat = formatOfPath(target), opts: { chunk?: number } = {}): DiskMove {
  if (!(disk instanceof SwitchableDevice)) throw new InputError('this disk cannot change its back end');
  if (disk.current instanceof MirrorDevice) throw new InputError('this disk is being moved already');
  if (disk.readOnly) throw new InputError('a read-only disk is not moved: copy its image (hv vhd convert) and use the copy');
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
  let over = false;
  return {
    path,
    format,
    mirror,
    step: () => mirror.step(),
    finish: () => {
      if (!mirror.done) throw new InputError('the copy is not complete');
      over = true;
      dest.flush();
      disk.switchTo(dest);
      mirror.source.close();
    },
    abort: () => {
      if (over) return;
      over = true;
      disk.switchTo(mirror.abandon());
      unlinkSync(path);
    },
  };
}
