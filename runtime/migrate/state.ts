// The STOP frame: a paused partition's META and records (runtime/persist,
// the same records a save file holds; tens of KiB, sent as they are: deflating
// them cost more downtime than sending them); and on the target, the
// LoadedSave that restorePartition/loadSave take, with the RAM in place.
import { checkPartition, SpecError, type PartitionSpec } from '../host/spec.ts';
import { checkDiskRefs, DISKS_RECORD_VERSION } from '../persist/disks.ts';
import { PersistError } from '../persist/errors.ts';
import type { LoadedSave, SaveMeta } from '../persist/partition.ts';
import { decodeRecords, encodeRecords, jsonRecord, RecordSet, type StateRecord } from '../persist/record.ts';
import { MigrationError } from './errors.ts';

const META_VERSION = 1;

export function encodeState(meta: SaveMeta, records: readonly StateRecord[]): Buffer {
  return Buffer.from(encodeRecords([jsonRecord('meta', META_VERSION, meta), ...records]));
}

/** The records of a STOP payload, checked as far as they can be without a partition (PersistError names the field). */
export function decodeState(payload: Uint8Array): { meta: SaveMeta; records: StateRecord[] } {
  const all = decodeRecords(payload, 'frame STOP');
  const meta = new RecordSet(all).json('meta', META_VERSION) as unknown as SaveMeta;
  if (meta.clock !== 'icount' && meta.clock !== 'realtime' && meta.clock !== 'sched') throw new PersistError('meta.clock', `is not a clock mode: ${String(meta.clock)}`);
  if (typeof meta.steps !== 'number' || !(meta.steps >= 0)) throw new PersistError('meta.steps', 'is not a step count');
  return { meta, records: all.filter((r) => r.kind !== 'meta') };
}

/** A LoadedSave for loadSave (runtime/persist/partition.ts) whose RAM the stream has written in place. */
export function loadedState(meta: SaveMeta, records: readonly StateRecord[]): LoadedSave {
  const set = new RecordSet([...records]);
  let spec: PartitionSpec;
  try {
    spec = checkPartition({ ...(meta.spec as PartitionSpec), disks: checkDiskRefs(set.json('disks', DISKS_RECORD_VERSION).list) });
  } catch (e) {
    if (e instanceof SpecError) throw new PersistError(`meta.spec.${e.path}`, e.problem, { cause: e });
    throw e;
  }
  return { path: '', meta, records: set, spec };
}
