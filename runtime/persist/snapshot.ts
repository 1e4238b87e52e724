// Live snapshots, revert, delete (merge) and linked clones of a partition,
// as Hyper-V checkpoints behave (docs/migration.md, "Snapshots"). The tree
// is kept in a directory (snapshot-manifest.ts); a snapshot's state is a
// save file (partition.ts: the same records and container), its disks the
// images the partition ran on when it was taken, frozen: the partition goes
// on, on a new differencing VHD (drivers/vhd) over each.
//
// Every operation makes its new files first, writes the manifest, and only
// then switches, deletes or merges: a failure before the manifest leaves
// the tree as it was (new files removed), and after it a chain that reads
// the same. The caller pauses a live partition around take and delete (on
// the deterministic host: stopped at a step limit) and replaces it after a
// revert (its vCPUs, RAM and devices come from the state file).
import { existsSync, mkdirSync, renameSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SwitchableDevice } from '../../drivers/block/switchable.ts';
import { BlockError } from '../../drivers/block/device.ts';
import { createDifferencingFile, isVhd, openVhd } from '../../drivers/vhd/chain.ts';
import { commitChild } from '../../drivers/vhd/commit.ts';
import type { DynamicVhd } from '../../drivers/vhd/dynamic.ts';
import { adoptIdentity, readFooter } from '../../drivers/vhd/identity.ts';
import type { DiskSpec, PartitionSpec } from '../host/spec.ts';
import type { Machine } from '../machine/machine.ts';
import type { LiveDisks } from '../storage/move.ts';
import { readSave, savePartition, type LoadedSave, type SaveInfo } from './partition.ts';
import {
  findSnapshot, hasManifest, readManifest, SnapshotError, writeManifest, type Manifest, type SnapshotEntry,
} from './snapshot-manifest.ts';

export { SnapshotError, readManifest, type Manifest, type SnapshotEntry };

export type { LiveDisks };

function switchable(live: LiveDisks, i: number): SwitchableDevice {
  const d = live.disks[i];
  if (!(d instanceof SwitchableDevice)) throw new SnapshotError(`disk ${i}`, 'cannot change its back end');
  return d;
}

const formatOf = (d: DiskSpec): 'raw' | 'vpc' => d.format ?? (isVhd(d.path) ? 'vpc' : 'raw');

/** Runs `make` for new files; removes them all if it (or a later step) throws. */
function creating<T>(make: (created: string[]) => T): T {
  const created: string[] = [];
  try {
    return make(created);
  } catch (e) {
    for (const f of created) if (existsSync(f)) unlinkSync(f);
    throw e;
  }
}

/** A differencing disk at `child` over `parent`; a missing or broken parent is a SnapshotError. */
function newChild(child: string, parent: string, created: string[], who: string): void {
  try {
    createDifferencingFile(child, parent);
    created.push(child);
  } catch (e) {
    if (existsSync(child)) unlinkSync(child);
    if (e instanceof BlockError || (e as NodeJS.ErrnoException).code) {
      throw new SnapshotError(who, `cannot make a differencing disk over '${parent}': ${(e as Error).message}`, { cause: e });
    }
    throw e;
  }
}

/** A fresh manifest for a partition that has no snapshot yet. */
function firstManifest(spec: PartitionSpec): Manifest {
  const base = spec.disks.map((d) => resolve(d.path));
  return {
    version: 1, partition: spec.name, base, readonly: spec.disks.map((d) => d.readonly === true), formats: spec.disks.map(formatOf),
    current: { parent: null, disks: base }, snapshots: [], clones: [], seq: 1,
  };
}

/**
 * Takes a live snapshot of `m` (paused, or stopped at a step limit) into
 * `dir`: its state to a save file, a differencing child over each writable
 * disk, and the partition switched to the children. It goes on running
 * afterwards (unlike a save). Raw writable disks are refused (a raw image
 * cannot have a differencing child: convert it to VHD first).
 */
export function takeSnapshot(dir: string, m: Machine, live: LiveDisks, name?: string): { entry: SnapshotEntry; info: SaveInfo } {
  const spec = live.spec;
  if (spec.disks.length === 0) throw new SnapshotError(`partition ${spec.name}`, 'has no disks: a snapshot is its state and its disks; save it instead (hv run --save)');
  spec.disks.forEach((d, i) => {
    if (d.readonly !== true && formatOf(d) === 'raw') {
      throw new SnapshotError(`disk ${i}`, `'${d.path}' is a raw image, which cannot take a differencing child: convert it to VHD (hv vhd convert -O vpc) and run on that`);
    }
    switchable(live, i);
  });
  mkdirSync(dir, { recursive: true });
  const man = hasManifest(dir) ? readManifest(dir) : firstManifest(spec);
  const running = spec.disks.map((d) => resolve(d.path));
  if (running.some((p, i) => p !== man.current.disks[i])) {
    throw new SnapshotError(`snapshot directory '${dir}'`, `belongs to other disks (${man.current.disks.join(', ')}) than the partition runs on (${running.join(', ')})`);
  }
  const id = String(man.seq++);
  const state = `${id}.hvs`;
  return creating((created) => {
    for (const d of live.disks) d.flush();
    const children = running.map((p, i) => {
      if (man.readonly[i]) return p;
      const child = resolve(dir, `${man.seq++}-disk${i}.vhd`);
      newChild(child, p, created, `disk ${i}`);
      return child;
    });
    created.push(join(dir, state));
    const info = savePartition(join(dir, state), m, spec, () => {});
    const opened = children.map((c, i) => (man.readonly[i] ? null : openVhd(c)));
    const entry: SnapshotEntry = { id, name: name ?? `snapshot ${id}`, parent: man.current.parent, created: new Date().toISOString(), steps: m.steps(), state, disks: running };
    try {
      man.snapshots.push(entry);
      man.current = { parent: id, disks: children };
      writeManifest(dir, man);
    } catch (e) {
      for (const d of opened) d?.close();
      throw e;
    }
    // Committed: the partition continues on the children; the images it ran on are the snapshot's now.
    opened.forEach((d, i) => {
      if (!d) return;
      switchable(live, i).switchTo(d).close();
      spec.disks[i] = { ...spec.disks[i]!, path: children[i]!, format: 'vpc' };
    });
    return { entry, info };
  });
}

/** Files of the directory's own making that `man` no longer names (never a base disk). */
function owned(man: Manifest, path: string): boolean {
  return !man.base.includes(path);
}

/**
 * Reverts to snapshot `id` of `dir`: a new differencing child over each of
 * its disks, and its state read to be restored on them. As Hyper-V's Apply,
 * the state the partition was in is given up: `discard` (called once the
 * partition's old disks are closed) deletes its differencing disks.
 */
export function revertSnapshot(dir: string, id: string): { save: LoadedSave; discard: () => void } {
  const man = readManifest(dir);
  const s = findSnapshot(man, id);
  return creating((created) => {
    const disks = s.disks.map((p, i): DiskSpec => {
      if (man.readonly[i]) return { path: p, format: man.formats[i], readonly: true };
      const child = resolve(dir, `${man.seq++}-disk${i}.vhd`);
      newChild(child, p, created, `snapshot ${s.id}, disk ${i}`);
      return { path: child, format: 'vpc', readonly: false };
    });
    const save = readSave(join(dir, s.state), { disks });
    const frozen = new Set(man.snapshots.flatMap((x) => x.disks));
    const old = man.current.disks.filter((p, i) => !man.readonly[i] && owned(man, p) && !frozen.has(p));
    man.current = { parent: s.id, disks: disks.map((d) => d.path) };
    writeManifest(dir, man);
    return { save, discard: () => old.forEach((p) => existsSync(p) && unlinkSync(p)) };
  });
}

/**
 * Deletes snapshot `id` of `dir`. Its disks stay the base of what came after
 * it, so the one branch after it (a later snapshot's disks, or the current
 * ones) is merged into them (commit.ts) and the merged disk takes the
 * child's file name and VHD identity: every disk below reads as before and
 * finds its parent where it was. A snapshot with several branches after it
 * (a revert made one), or with linked clones, is refused; one with none
 * just goes. `live`: the partition running on the current disks (paused),
 * which is switched to the merged images.
 */
export function deleteSnapshot(dir: string, id: string, live?: LiveDisks): void {
  const man = readManifest(dir);
  const s = findSnapshot(man, id);
  const clone = man.clones.find((c) => c.snapshot === s.id && existsSync(c.dir));
  if (clone) throw new SnapshotError(`snapshot ${s.id}`, `linked clone '${clone.dir}' runs on its disks: delete the clone first`);
  const kids = man.snapshots.filter((x) => x.parent === s.id);
  const currentKid = man.current.parent === s.id;
  const branches = kids.length + (currentKid ? 1 : 0);
  if (branches > 1) throw new SnapshotError(`snapshot ${s.id}`, `has ${branches} branches after it (from a revert); they share its disks: delete all but one first`);
  const child = branches === 0 ? null : [...(currentKid ? man.current.disks : kids[0]!.disks)];
  const writable = s.disks.map((_, i) => i).filter((i) => !man.readonly[i]);
  if (child && !currentKid && writable.some((i) => !owned(man, s.disks[i]!))) {
    throw new SnapshotError(`snapshot ${s.id}`, `its disks are the partition's base images, which later snapshots build on: delete those first`);
  }
  if (live && live.spec.disks.some((d, i) => resolve(d.path) !== man.current.disks[i])) {
    throw new SnapshotError(`snapshot directory '${dir}'`, 'the partition does not run on its current disks');
  }
  // Where each merged disk ends up: the child's name, or the base image itself.
  const final = writable.map((i) => (owned(man, s.disks[i]!) ? child?.[i] : s.disks[i]));
  man.snapshots = man.snapshots.filter((x) => x !== s);
  for (const k of kids) k.parent = s.parent;
  if (currentKid) {
    man.current.parent = s.parent;
    writable.forEach((i, j) => (man.current.disks[i] = final[j]!));
  }
  writeManifest(dir, man); // from here the chain reads the same at every step (commit does not empty the child)
  // The live partition's chain holds the disks merged here (a snapshot's
  // disk is an ancestor of the current one): closed now, reopened below.
  const liveIdx = live && child ? writable : [];
  for (const i of liveIdx) switchable(live!, i).current.close();
  try {
    writable.forEach((i) => {
      const d = s.disks[i]!;
      const k = child?.[i];
      if (!k) {
        if (owned(man, d)) unlinkSync(d);
        return;
      }
      const top = openVhd(k, { parentWritable: true }) as DynamicVhd;
      try {
        commitChild(top, { empty: false });
      } finally {
        top.close();
      }
      if (owned(man, d)) {
        adoptIdentity(d, readFooter(k));
        renameSync(d, k);
      } else {
        unlinkSync(k);
      }
    });
  } finally {
    for (const i of liveIdx) {
      const path = man.current.disks[i]!;
      switchable(live!, i).switchTo(openVhd(path));
      live!.spec.disks[i] = { ...live!.spec.disks[i]!, path };
    }
  }
  const state = join(dir, s.state);
  if (existsSync(state)) unlinkSync(state);
}

/** The name a linked clone of a snapshot of `man` gets unless given one. */
export function cloneName(man: Manifest): string {
  return `${man.partition.slice(0, 24)}-clone`;
}

/**
 * A linked clone of snapshot `id` of `dir` in `newDir`: a differencing disk
 * over each of the snapshot's (owned by the clone's directory, which keeps
 * the clone's own snapshot tree), and the snapshot's state to start it from,
 * as partition `name` (default: the original's, with -clone). The snapshot cannot be deleted while the clone exists.
 */
export function cloneSnapshot(dir: string, id: string, newDir: string, name?: string): LoadedSave {
  const man = readManifest(dir);
  name ??= cloneName(man);
  const s = findSnapshot(man, id);
  if (hasManifest(newDir)) throw new SnapshotError(`clone directory '${newDir}'`, 'holds a snapshot tree already');
  mkdirSync(newDir, { recursive: true });
  return creating((created) => {
    const disks = s.disks.map((p, i): DiskSpec => {
      if (man.readonly[i]) return { path: p, format: man.formats[i], readonly: true };
      const child = resolve(newDir, `clone-disk${i}.vhd`);
      newChild(child, p, created, `snapshot ${s.id}, disk ${i}`);
      return { path: child, format: 'vpc', readonly: false };
    });
    const save = readSave(join(dir, s.state), { disks });
    save.spec = { ...save.spec, name };
    const paths = disks.map((d) => d.path);
    writeManifest(newDir, {
      version: 1, partition: name, base: paths, readonly: [...man.readonly], formats: disks.map((d) => d.format!),
      current: { parent: null, disks: paths }, snapshots: [], clones: [], seq: 1,
    });
    created.push(join(newDir, 'snapshots.json'));
    man.clones.push({ dir: resolve(newDir), snapshot: s.id });
    writeManifest(dir, man);
    return save;
  });
}

/** The tree as text, one snapshot a line, children indented under their parent; "now" marks where the partition runs. */
export function snapshotTree(man: Manifest): string {
  const lines: string[] = [];
  const walk = (parent: string | null, indent: string) => {
    for (const s of man.snapshots.filter((x) => x.parent === parent)) {
      lines.push(`${indent}${s.id}  ${s.name}  (step ${s.steps}, ${s.created})`);
      walk(s.id, indent + '  ');
    }
    if (man.current.parent === parent) lines.push(`${indent}* now`);
  };
  walk(null, '');
  for (const c of man.clones) lines.push(`clone of ${c.snapshot}: ${c.dir}${existsSync(c.dir) ? '' : ' (gone)'}`);
  return lines.join('\n') + '\n';
}

