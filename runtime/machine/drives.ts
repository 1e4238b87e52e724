// Opening the disk image a partition's spec names (-drive on the command
// line, disks[] in a VM config).
import { statSync } from 'node:fs';
import { BlockError, type BlockDevice } from '../../drivers/block/device.ts';
import { RawDevice } from '../../drivers/block/raw.ts';
import { isVhd, openVhd } from '../../drivers/vhd/chain.ts';
import { InputError } from '../errors.ts';
import type { DiskSpec } from '../host/spec.ts';

/**
 * Opens a disk image: raw images through drivers/block/raw.ts,
 * VHD (vpc: fixed, dynamic or differencing with its parents) through
 * drivers/vhd. Throws InputError when the file cannot be opened or is not a
 * valid image of its format.
 */
export function openDrive(spec: DiskSpec): BlockDevice {
  try {
    // A disk is an image file: a device or FIFO has no size to give the
    // guest and may refuse fsync (EINVAL for /dev/null) when it is closed.
    if (!statSync(spec.path).isFile()) throw new BlockError('not a regular file (a disk is an image file)');
    const format = spec.format ?? (isVhd(spec.path) ? 'vpc' : 'raw');
    if (format === 'vpc') return openVhd(spec.path, { readOnly: spec.readonly === true });
    return RawDevice.open(spec.path, { readOnly: spec.readonly === true });
  } catch (e) {
    if (e instanceof BlockError) throw new InputError(`disk '${spec.path}': ${e.message}`, { cause: e });
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`cannot open disk '${spec.path}': ${code ?? (e as Error).message}`, { cause: e });
  }
}
