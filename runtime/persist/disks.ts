// Disks travel by reference: a save file names each image (absolute path,
// format, read-only) with a fingerprint taken after the save flushed it
// (size, modification time, and a VHD's unique id). Restore refuses an
// image that changed since: the guest's file system would not match the
// state in its page cache.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DiskSpec } from '../host/spec.ts';
import { PersistError } from './errors.ts';

export const DISKS_RECORD_VERSION = 1;

export interface DiskRef {
  path: string;
  format: 'raw' | 'vpc';
  readonly: boolean;
  size: number;
  mtimeNs: string;
  /** VHD footer unique id (hex), '' for raw images. */
  uniqueId: string;
  /** 'vmbus': a synthetic SCSI disk (absent: virtio-blk); the restored partition attaches it the same way. */
  if?: 'vmbus';
  /** A VMBus disk's instance number when its spec gave one (a hot-added disk's, DiskSpec.slot); checked with the spec on restore. */
  slot?: number;
}

function vhdUniqueId(path: string, size: number): string {
  if (size < 512) return '';
  const fd = openSync(path, 'r');
  try {
    const footer = Buffer.alloc(512);
    readSync(fd, footer, 0, 512, size - 512);
    return footer.subarray(68, 84).toString('hex');
  } finally {
    closeSync(fd);
  }
}

/** References to `disks`, whose images must be flushed (closed) already. */
export function diskRefs(disks: readonly DiskSpec[], formats: readonly ('raw' | 'vpc')[]): DiskRef[] {
  return disks.map((d, i) => {
    const path = resolve(d.path);
    const st = statSync(path, { bigint: true });
    const format = formats[i]!;
    return {
      path,
      format,
      readonly: d.readonly === true,
      size: Number(st.size),
      mtimeNs: st.mtimeNs.toString(),
      uniqueId: format === 'vpc' ? vhdUniqueId(path, Number(st.size)) : '',
      ...(d.if === 'vmbus' ? { if: 'vmbus' as const } : {}),
      ...(d.slot !== undefined ? { slot: d.slot } : {}),
    };
  });
}

/** Checks every referenced image is the one saved; returns the disks for the partition's spec. */
export function checkDiskRefs(value: unknown): DiskSpec[] {
  if (!Array.isArray(value) || value.length > 24) throw new PersistError('disks', 'is not a list of at most 24 disks (8 virtio, 16 on VMBus)');
  return value.map((r, i) => {
    const who = `disk ${i}`;
    const ref = r as Partial<DiskRef>;
    if (typeof ref !== 'object' || ref === null || typeof ref.path !== 'string' || (ref.format !== 'raw' && ref.format !== 'vpc')) {
      throw new PersistError(who, 'reference is malformed');
    }
    let st;
    try {
      st = statSync(ref.path, { bigint: true });
    } catch (e) {
      throw new PersistError(who, `image '${ref.path}' cannot be opened: ${(e as NodeJS.ErrnoException).code ?? e}`, { cause: e });
    }
    const changed = (what: string) => new PersistError(who, `image '${ref.path}' changed since the save (${what}); the guest's view of it would be wrong`);
    if (Number(st.size) !== ref.size) throw changed(`size ${st.size}, saved ${ref.size}`);
    if (st.mtimeNs.toString() !== ref.mtimeNs) throw changed('modification time');
    if (ref.format === 'vpc' && vhdUniqueId(ref.path, Number(st.size)) !== ref.uniqueId) throw changed('VHD unique id');
    return { path: ref.path, format: ref.format, readonly: ref.readonly === true, ...vmbusOf(ref) };
  });
}

/** `disks` in place of saved references `value`: as many, each as read-only as the one it replaces. */
export function replaceDiskRefs(value: unknown, disks: readonly DiskSpec[]): DiskSpec[] {
  if (!Array.isArray(value) || value.length !== disks.length) {
    throw new PersistError('disks', `the state has ${Array.isArray(value) ? value.length : 'no list of'} disks, ${disks.length} given`);
  }
  return disks.map((d, i) => {
    const ref = value[i] as Partial<DiskRef>;
    if (ref?.readonly !== (d.readonly === true)) throw new PersistError(`disk ${i}`, 'read-only in one and not the other');
    return { ...d, ...vmbusOf(ref) };
  });
}

/** A reference's VMBus attachment for its DiskSpec: `if`, and `slot` as saved (checkPartition checks it). */
function vmbusOf(ref: Partial<DiskRef>): Pick<DiskSpec, 'if' | 'slot'> {
  return { ...(ref.if === 'vmbus' ? { if: 'vmbus' as const } : {}), ...(ref.slot !== undefined ? { slot: ref.slot } : {}) };
}
