// The snapshot tree of one partition, as Hyper-V keeps its checkpoints: a
// directory holding a state file per snapshot (a save file, container.ts),
// the differencing disks, and this manifest, `snapshots.json`:
//
//   { "version": 1, "partition": "guest",
//     "base":    ["/img/disk.vhd"],            the disks before the first snapshot (never deleted)
//     "readonly": [false], "formats": ["vpc"], per disk: read-only disks are shared, not snapshotted
//     "current": { "parent": "2", "disks": ["/dir/5-disk0.vhd"] },   what the partition runs on
//     "snapshots": [ { "id": "1", "name": "before upgrade", "parent": null,
//                      "created": "2025-...", "steps": 4000, "state": "1.hvs",
//                      "disks": ["/img/disk.vhd"] }, ... ],   the disks frozen at the snapshot
//     "clones": [ { "dir": "/clones/a", "snapshot": "2" } ],   linked clones made from a snapshot
//     "seq": 6 }                               the next number for a snapshot id or a disk file
//
// A snapshot's disks are its partition's disks as they were when it was
// taken; each later snapshot's (and the current) disks are differencing
// children of its parent's, so the snapshot tree and the disk tree are one
// tree. Written through a temporary file and a rename: whole or absent.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PersistError } from './errors.ts';

export const MANIFEST_NAME = 'snapshots.json';
const MANIFEST_VERSION = 1;

export interface SnapshotEntry {
  id: string;
  name: string;
  parent: string | null;
  created: string;
  /** The guest's step count when it was taken. */
  steps: number;
  /** State file name, in the directory. */
  state: string;
  /** Absolute paths, one per disk of the partition. */
  disks: string[];
}

export interface Manifest {
  version: number;
  partition: string;
  base: string[];
  readonly: boolean[];
  formats: ('raw' | 'vpc')[];
  current: { parent: string | null; disks: string[] };
  snapshots: SnapshotEntry[];
  clones: { dir: string; snapshot: string }[];
  seq: number;
}

/** A snapshot directory or operation that cannot be done: names the field or snapshot at fault. */
export class SnapshotError extends PersistError {
  constructor(field: string, problem: string, options?: { cause?: unknown }) {
    super(field, problem, options);
    this.name = 'SnapshotError';
  }
}

export function manifestPath(dir: string): string {
  return join(dir, MANIFEST_NAME);
}

export function hasManifest(dir: string): boolean {
  return existsSync(manifestPath(dir));
}

export function readManifest(dir: string): Manifest {
  const path = manifestPath(dir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SnapshotError(`snapshot directory '${dir}'`, `has no readable ${MANIFEST_NAME}: ${(e as NodeJS.ErrnoException).code ?? e}`, { cause: e });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new SnapshotError(path, 'is not valid JSON (corrupt)', { cause: e });
  }
  return checkManifest(v, path);
}

export function writeManifest(dir: string, m: Manifest): void {
  const path = manifestPath(dir);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    const text = Buffer.from(JSON.stringify(m, null, 2) + '\n');
    for (let off = 0; off < text.length; ) off += writeSync(fd, text, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function findSnapshot(m: Manifest, id: string): SnapshotEntry {
  const s = m.snapshots.find((x) => x.id === id || x.name === id);
  if (!s) throw new SnapshotError(`snapshot '${id}'`, `is not in the tree (ids: ${m.snapshots.map((x) => x.id).join(', ') || 'none'})`);
  return s;
}

// ---- checks: a manifest edited by hand or cut short is refused, naming the field

function checkManifest(v: unknown, where: string): Manifest {
  const fail = (field: string, problem: string) => new SnapshotError(`${where}: ${field}`, problem);
  const obj = (x: unknown, field: string) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw fail(field, 'is not an object');
    return x as Record<string, unknown>;
  };
  const paths = (x: unknown, field: string, n: number) => {
    if (!Array.isArray(x) || x.length !== n || !x.every((p) => typeof p === 'string' && p.startsWith('/'))) throw fail(field, `is not a list of ${n} absolute paths`);
    return x as string[];
  };
  const m = obj(v, 'manifest');
  if (m.version !== MANIFEST_VERSION) throw fail('version', `is ${String(m.version)}, this hv reads version ${MANIFEST_VERSION}`);
  if (typeof m.partition !== 'string') throw fail('partition', 'is not a name');
  if (!Array.isArray(m.readonly) || !m.readonly.every((r) => typeof r === 'boolean') || m.readonly.length > 8) throw fail('readonly', 'is not a list of at most 8 booleans');
  const n = m.readonly.length;
  paths(m.base, 'base', n);
  if (!Array.isArray(m.formats) || m.formats.length !== n || !m.formats.every((f) => f === 'raw' || f === 'vpc')) throw fail('formats', `is not a list of ${n} formats (raw, vpc)`);
  if (!Number.isSafeInteger(m.seq) || (m.seq as number) < 1) throw fail('seq', 'is not a positive count');
  if (!Array.isArray(m.snapshots)) throw fail('snapshots', 'is not a list');
  const ids = new Set<string>();
  m.snapshots.forEach((s, i) => {
    const f = `snapshots[${i}]`;
    const e = obj(s, f);
    if (typeof e.id !== 'string' || !/^\d{1,12}$/.test(e.id) || ids.has(e.id)) throw fail(`${f}.id`, 'is not a unique number');
    ids.add(e.id);
    if (typeof e.name !== 'string' || e.name.length > 200) throw fail(`${f}.name`, 'is not a name');
    if (typeof e.created !== 'string') throw fail(`${f}.created`, 'is not a time');
    if (!Number.isSafeInteger(e.steps) || (e.steps as number) < 0) throw fail(`${f}.steps`, 'is not a step count');
    if (typeof e.state !== 'string' || !/^[\w.-]+\.hvs$/.test(e.state)) throw fail(`${f}.state`, 'is not a state file name in the directory');
    paths(e.disks, `${f}.disks`, n);
  });
  const parentOk = (p: unknown) => p === null || (typeof p === 'string' && ids.has(p));
  m.snapshots.forEach((s, i) => {
    if (!parentOk((s as SnapshotEntry).parent)) throw fail(`snapshots[${i}].parent`, 'names no snapshot of the tree');
  });
  const cur = obj(m.current, 'current');
  if (!parentOk(cur.parent)) throw fail('current.parent', 'names no snapshot of the tree');
  paths(cur.disks, 'current.disks', n);
  if (!Array.isArray(m.clones) || !m.clones.every((c) => typeof c?.dir === 'string' && ids.has(c?.snapshot))) throw fail('clones', 'is not a list of { dir, snapshot }');
  const tree = m as unknown as Manifest;
  // Parents must lead to a root: a loop would make every walk endless.
  for (const s of tree.snapshots) {
    let p = s.parent;
    for (let steps = 0; p !== null; steps++) {
      if (steps > tree.snapshots.length) throw fail(`snapshot ${s.id}`, 'its parents loop');
      p = tree.snapshots.find((x) => x.id === p)!.parent;
    }
  }
  return tree;
}
