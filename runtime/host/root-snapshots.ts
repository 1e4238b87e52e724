// The root partition's snapshot and disk-move verbs (HostController; docs/
// migration.md): runtime/persist/snapshot.ts and runtime/storage/move.ts do
// them, as on the deterministic host; this holds the partition still around
// them and keeps each partition's snapshot tree and moves.
import { releaseProxy } from 'comlink';
import { resolve } from 'node:path';
import type { PagingMode } from '../machine/machine.ts';
import { cloneName, cloneSnapshot, deleteSnapshot, readManifest, revertSnapshot, takeSnapshot } from '../persist/snapshot.ts';
import { copyInTurns, startDiskMove } from '../storage/move.ts';
import { ControlError, type ConsoleSink, type Manifest, type MoveInfo, type MoveProgress, type SnapshotInfo } from './controller.ts';
import { InputError } from '../errors.ts';
import { asInput, mustBeLive, nameFree, type Partition, type Root } from './root-partition.ts';
import { lendChannels, recallChannels } from './root-vmbus.ts';

export class RootSnapshots {
  constructor(private readonly root: Root) {}

  /** Runs `f` with `p` still (paused, its vCPUs at rest, its console polled), then lets it run again if it was running. */
  private async whileStill<T>(p: Partition, f: () => T): Promise<T> {
    if (p.state === 'created') return f(); // no vCPU of it has run
    if (p.state !== 'running' && p.state !== 'paused') throw new ControlError(`partition ${p.spec.name} is ${p.state}`);
    const wasRunning = p.state === 'running';
    if (wasRunning) await this.root.pause(p.machine.id);
    try {
      await this.root.quiesce(p);
      p.machine.poll();
      return f();
    } finally {
      if (wasRunning && p.state === 'paused') await this.root.resume(p.machine.id);
    }
  }

  /** Refuses what would change the images under a disk move. */
  private notMoving(p: Partition, what: string): void {
    const [disk] = p.moves.keys();
    if (disk !== undefined) throw new ControlError(`partition ${p.spec.name}: disk ${disk} is being moved; ${what} once the move is done`);
  }

  /** The live partition that runs on the current disks of snapshot tree `dir`, if any. */
  private onTree(dir: string): Partition | undefined {
    const current = new Set(asInput(() => readManifest(dir)).current.disks);
    for (const p of this.root.parts.values()) {
      if (p.state !== 'finished' && p.spec.disks.some((d) => !d.readonly && current.has(resolve(d.path)))) return p;
    }
    return undefined;
  }

  async snapshot(id: number, dir: string, options: { name?: string } = {}): Promise<SnapshotInfo> {
    const p = this.root.get(id);
    mustBeLive(p);
    this.notMoving(p, 'take the snapshot');
    // A snapshot tree's disks are the spec's, one differencing chain each
    // (persist/snapshot.ts); hot-added disks have no place in it yet. A save
    // or a live migration takes such a partition (vmbus-hotplug.ts specNow).
    if (p.machine.vmbus?.hotplugged) throw new ControlError(`partition ${p.spec.name}: its VMBus devices were added or removed while it ran, and snapshots do not take such a partition yet (save or migrate it)`);
    return this.whileStill(p, () => {
      const { entry, info } = asInput(() => takeSnapshot(dir, p.machine, p, options.name));
      p.snapshotDir = resolve(dir);
      return { ...info, id: entry.id, name: entry.name, steps: entry.steps, consoleBytes: p.printed };
    });
  }

  async listSnapshots(dir: string): Promise<Manifest> {
    return asInput(() => readManifest(dir));
  }

  async revert(target: number | string, snapshotId: string, console?: ConsoleSink, options: { paging?: PagingMode } = {}): Promise<number> {
    let old: Partition | undefined;
    let dir: string;
    if (typeof target === 'number') {
      old = this.root.get(target);
      if (old.snapshotDir === undefined) throw new ControlError(`partition ${old.spec.name} runs on no snapshot tree: give the snapshot directory`);
      this.notMoving(old, 'revert');
      dir = old.snapshotDir;
    } else {
      dir = resolve(target);
      const on = this.onTree(dir);
      if (on) throw new ControlError(`partition ${on.spec.name} runs on the snapshot tree in '${target}': revert it by its id`);
    }
    // The state's partition is the tree's: its name must be free (or be the one replaced).
    nameFree(this.root.parts, asInput(() => readManifest(dir)).partition, old);
    // New files and the manifest first: if they fail, the partition runs on unharmed.
    const { save, discard } = asInput(() => revertSnapshot(dir, snapshotId));
    if (old) await this.root.destroy(old.machine.id); // Hyper-V's Apply gives up the state it was in
    discard();
    const id = await this.root.restoreSave(save, console, options);
    this.root.get(id).snapshotDir = dir;
    return id;
  }

  async deleteSnapshot(dir: string, snapshotId: string): Promise<void> {
    const p = this.onTree(dir);
    if (!p) return asInput(() => deleteSnapshot(dir, snapshotId));
    this.notMoving(p, 'delete the snapshot');
    // The merge rewrites files under its disk chain: it waits, still.
    await this.whileStill(p, () => asInput(() => deleteSnapshot(dir, snapshotId, p)));
  }

  async clone(dir: string, snapshotId: string, newDir: string, console?: ConsoleSink, options: { name?: string; paging?: PagingMode } = {}): Promise<number> {
    const name = options.name ?? cloneName(asInput(() => readManifest(dir)));
    nameFree(this.root.parts, name);
    const save = asInput(() => cloneSnapshot(dir, snapshotId, newDir, name));
    const id = await this.root.restoreSave(save, console, options);
    this.root.get(id).snapshotDir = resolve(newDir);
    return id;
  }

  async moveDisk(id: number, disk: number, path: string, onProgress?: (p: MoveProgress) => void): Promise<MoveInfo> {
    const p = this.root.get(id);
    try {
      if (p.state === 'finished' || p.state === 'rebooting') throw new ControlError(`partition ${p.spec.name} is ${p.state}`);
      const t0 = performance.now();
      recallChannels(p); // the mirror copies between requests on this thread: the disk stays here until the move ends
      const job = asInput(() => startDiskMove(p, disk, path));
      p.moves.set(disk, job);
      // The caller's callback (from another thread, through comlink: a promise) never stops the move.
      const tell = async (copied: number) => {
        try {
          await onProgress?.({ disk, copied, total: job.mirror.size });
        } catch {}
      };
      try {
        // Copies between VM exits: the service loop gets a turn every millisecond.
        if (await copyInTurns(job, { sliceMs: 1, onProgress: onProgress && ((copied) => void tell(copied)) })) job.finish();
      } catch (e) {
        job.abort();
        throw new InputError(`writing '${path}' failed: ${(e as Error).message}`); // the guest is on its old image still
      } finally {
        p.moves.delete(disk);
        lendChannels(p);
      }
      if (job.state !== 'done') throw new ControlError(`partition ${p.spec.name} ended (${p.machine.result?.kind}) before disk ${disk} was moved: the copy is deleted`);
      await tell(job.mirror.size); // the whole copy (here, or at the partition's end), heard before the result
      return { disk, path: job.path, format: job.format, bytes: job.mirror.size, mirroredWrites: job.mirror.mirroredWrites, ms: performance.now() - t0 };
    } finally {
      // A callback from another thread (comlink) holds a port open until released.
      (onProgress as { [releaseProxy]?: () => void } | undefined)?.[releaseProxy]?.();
    }
  }
}
