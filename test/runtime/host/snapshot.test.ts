// Live snapshots, revert, delete, linked clones and storage migration on the
// threaded host (HostController, and hv run without --deterministic), while
// disk_writer.elf writes its disk from pCPU threads. Where a snapshot falls
// depends on the host's timing; what is compared does not: every run, from
// whatever point, must print what the uninterrupted run prints and leave the
// same disk bytes. A snapshot is taken with the partition paused from its
// console sink the moment a line appears, so it always falls in mid-run.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlError, type MoveProgress } from '../../../runtime/host/controller.ts';
import { Host } from '../../../runtime/host/host.ts';
import { partitionSpec, type DiskSpec } from '../../../runtime/host/spec.ts';
import { InputError } from '../../../runtime/errors.ts';
import { contents, newVhd } from '../../support/disk.ts';
import { hv } from '../../support/save.ts';
import { ConsoleSession } from '../../support/session.ts';

const GUEST = 'guests/bin/disk_writer.elf';
const qemuImg = spawnSync('qemu-img', ['--version']).status === 0;

let host: Host;
let dir: string;
/** The uninterrupted run: its output, and its disk's bytes. */
let whole: string;
let wholeDisk: Buffer;

interface Guest {
  id: number;
  output(): string;
  /** Resolves once the partition is paused at the console text given to launch. */
  paused: Promise<void>;
}

/** disk_writer on `disks`, started; with `pauseAt`, paused as soon as its console shows that text. */
async function launch(name: string, disks: DiskSpec[], pauseAt?: string): Promise<Guest> {
  let out = '';
  let id = -1;
  let pausing: Promise<void> | undefined;
  let paused!: () => void;
  let failed!: (e: unknown) => void;
  const atText = new Promise<void>((resolve, reject) => ((paused = resolve), (failed = reject)));
  id = await host.create(partitionSpec(name, GUEST, { memory: 16 << 20, disks }), (b) => {
    out += Buffer.from(b).toString('latin1');
    if (pauseAt && !pausing && out.includes(pauseAt)) {
      pausing = host.pause(id);
      pausing.then(paused, failed);
    }
  });
  await host.start(id);
  return { id, output: () => out, paused: atText };
}

beforeAll(async () => {
  host = await Host.start({ pcpus: 2, memoryBytes: 256 << 20 });
  dir = mkdtempSync(join(tmpdir(), 'hv-host-snap-'));
  const disk = newVhd(dir, 'whole.vhd');
  const g = await launch('whole', [{ path: disk }]);
  expect(await host.wait(g.id)).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
  whole = g.output();
  expect(whole).toContain('PASSED all 4 checks');
  wholeDisk = contents(disk);
});
afterAll(async () => {
  await host?.close();
});

/** Runs created partition `id` to a clean exit. */
async function finish(id: number): Promise<void> {
  await host.start(id);
  expect(await host.wait(id)).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
}

describe('threaded live snapshots', () => {
  it('leave the guest running unaware on a differencing disk, and a revert runs on from the snapshot to the uninterrupted output and disk', async () => {
    const base = newVhd(dir, 'a.vhd');
    const snaps = join(dir, 'a');
    const g = await launch('a', [{ path: base }], 'ok 1 init');
    await g.paused;
    const s = await host.snapshot(g.id, snaps, { name: 'before the writes' });
    expect(s).toMatchObject({ id: '1', name: 'before the writes' });
    expect(s.bytes).toBeGreaterThan(0);
    await host.resume(g.id);
    expect(await host.wait(g.id)).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
    expect(g.output()).toBe(whole);
    // The guest finished on the child; the base image is the snapshot's, as it was then.
    const man = await host.listSnapshots(snaps);
    expect(man.snapshots.map((x) => [x.id, x.disks])).toEqual([['1', [base]]]);
    expect(man.current.parent).toBe('1');
    expect(contents(man.current.disks[0]!).equals(wholeDisk)).toBe(true);
    const atSnapshot = contents(base);
    expect(atSnapshot.equals(wholeDisk)).toBe(false);

    // Revert by the directory (the partition is gone): from the snapshot on, the rest of the uninterrupted run.
    await expect(host.revert(snaps, '1')).rejects.toThrow(/a partition named a exists/); // finished, not destroyed
    await host.destroy(g.id);
    let after = '';
    const r = await host.revert(snaps, '1', (b) => (after += Buffer.from(b).toString('latin1')));
    await finish(r);
    expect(whole.slice(0, s.consoleBytes) + after).toBe(whole);
    expect(existsSync(man.current.disks[0]!)).toBe(false); // Apply gives up the state since
    const now = (await host.listSnapshots(snaps)).current.disks[0]!;
    expect(contents(now).equals(wholeDisk)).toBe(true);
    expect(contents(base).equals(atSnapshot)).toBe(true);
  });

  it('revert a partition by its id, replacing it; a linked clone runs from the snapshot on a disk of its own, which the snapshot cannot be deleted under', async () => {
    const base = newVhd(dir, 'b.vhd');
    const snaps = join(dir, 'b');
    const g = await launch('b', [{ path: base }], 'pass 0 written');
    await g.paused;
    const s = await host.snapshot(g.id, snaps); // it stays paused
    expect(s.id).toBe('1');
    // Replaced by its snapshot: the new partition's console goes where the old one's went.
    const r = await host.revert(g.id, '1');
    expect((await host.list()).filter((p) => p.name === 'b').map((p) => [p.id, p.state])).toEqual([[r, 'created']]);
    await finish(r);
    expect(g.output()).toBe(whole);

    let cloned = '';
    const c = await host.clone(snaps, '1', join(dir, 'b-clone'), (b) => (cloned += Buffer.from(b).toString('latin1')));
    expect((await host.list()).find((p) => p.id === c)).toMatchObject({ name: 'b-clone', state: 'created' });
    await finish(c);
    expect(whole.slice(0, s.consoleBytes) + cloned).toBe(whole);
    const cloneDisk = (await host.listSnapshots(join(dir, 'b-clone'))).current.disks[0]!;
    expect(contents(cloneDisk).equals(wholeDisk)).toBe(true);
    const refused = host.deleteSnapshot(snaps, '1');
    await expect(refused).rejects.toBeInstanceOf(InputError);
    await expect(refused).rejects.toThrow(/linked clone/);
  });

  it('delete, while the partition runs on the tree, merges under it: the guest ends unaware on the merged disk', async () => {
    const base = newVhd(dir, 'c.vhd');
    const snaps = join(dir, 'c');
    const g = await launch('c', [{ path: base }], 'ok 1 init');
    await g.paused;
    await host.snapshot(g.id, snaps);
    await host.snapshot(g.id, snaps);
    await host.resume(g.id);
    await host.deleteSnapshot(snaps, '3'); // the last: the running disk is merged into its disk, under the running guest
    expect(await host.wait(g.id)).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
    expect(g.output()).toBe(whole);
    const man = await host.listSnapshots(snaps);
    expect(man.snapshots.map((x) => x.id)).toEqual(['1']);
    expect(contents(man.current.disks[0]!).equals(wholeDisk)).toBe(true);
  });

  it('are refused for a partition that is not live, or a raw disk, naming why', async () => {
    const raw = join(dir, 'raw.img');
    writeFileSync(raw, new Uint8Array(1 << 20));
    const g = await launch('raw', [{ path: raw, format: 'raw' }], 'ok 1 init');
    await g.paused;
    await expect(host.snapshot(g.id, join(dir, 'raw'))).rejects.toThrow(/raw image, which cannot take a differencing child/);
    await host.resume(g.id);
    await host.wait(g.id);
    await expect(host.snapshot(g.id, join(dir, 'raw'))).rejects.toBeInstanceOf(ControlError);
    await expect(host.revert(g.id, '1')).rejects.toThrow(/runs on no snapshot tree/);
  });
});

describe('threaded storage migration', () => {
  it('moves disks the guest is using, any index, to new images identical to the uninterrupted run (qemu-img compare)', async () => {
    // 16 MiB with data past what the guest writes: the copy is still going while it writes.
    const data = randomBytes(16 << 20);
    const [w0, m0, w1, m1] = ['w0.img', 'm0.img', 'w1.img', 'm1.img'].map((n) => join(dir, n));
    for (const p of [w0, m0, w1, m1]) writeFileSync(p, data);
    const disks = (a: string, b: string): DiskSpec[] => [{ path: a, format: 'raw' }, { path: b, format: 'raw' }];
    const w = await launch('w', disks(w0, w1));
    await host.wait(w.id);

    const g = await launch('m', disks(m0, m1), 'ok 1 init');
    await g.paused;
    const seen: MoveProgress[] = [];
    const to0 = join(dir, 'moved0.vhd');
    const to1 = join(dir, 'moved1.img');
    const moves = [host.moveDisk(g.id, 0, to0, (p) => seen.push(p)), host.moveDisk(g.id, 1, to1)];
    await host.resume(g.id);
    const [i0, i1] = await Promise.all(moves);
    expect(i0).toMatchObject({ disk: 0, path: to0, format: 'vpc', bytes: 16 << 20 });
    expect(i1).toMatchObject({ disk: 1, path: to1, format: 'raw' });
    expect(seen.at(-1)).toEqual({ disk: 0, copied: 16 << 20, total: 16 << 20 });
    await host.wait(g.id);
    expect(g.output()).toBe(whole);
    expect(contents(to0).equals(contents(w0))).toBe(true);
    expect(readFileSync(to1).equals(readFileSync(w1))).toBe(true);
    if (qemuImg) {
      const cmp = spawnSync('qemu-img', ['compare', '-f', 'raw', '-F', 'vpc', w0, to0], { encoding: 'utf8' });
      expect(cmp.stdout).toContain('Images are identical');
    }
  });

  it('refuses a disk that is not there, a file that exists, a partition that ended', async () => {
    const raw = join(dir, 'r.img');
    writeFileSync(raw, new Uint8Array(1 << 20));
    const g = await launch('r', [{ path: raw, format: 'raw' }], 'ok 1 init');
    await g.paused;
    await expect(host.moveDisk(g.id, 1, join(dir, 'x.img'))).rejects.toThrow(/there is no disk 1/);
    await expect(host.moveDisk(g.id, 0, raw)).rejects.toThrow(/exists: a disk is moved to a new file/);
    await host.resume(g.id);
    await host.wait(g.id);
    await expect(host.moveDisk(g.id, 0, join(dir, 'y.img'))).rejects.toBeInstanceOf(ControlError);
    expect(existsSync(join(dir, 'x.img')) || existsSync(join(dir, 'y.img'))).toBe(false);
  });
});

describe('hv run on the threaded host', () => {
  /** The session's stdout: its output without hv's stderr lines (each one write, which may fall inside a guest line). */
  const stdout = (s: ConsoleSession) => s.output.replace(/hv: [^\n]*\n/g, '');

  it('takes a snapshot on SIGUSR2; hv snapshot revert runs on from it on a new child, the snapshot untouched', async () => {
    const base = newVhd(dir, 'cli.vhd');
    const snaps = join(dir, 'cli');
    const s = ConsoleSession.hv(['run', '--pcpus', '1', '-m', '16M', '-drive', `file=${base},if=virtio`, GUEST, '--snapshot-dir', snaps]);
    await s.waitFor('ok 1 init');
    s.signal('SIGUSR2');
    expect(await s.exited).toBe(0);
    expect(s.output).toMatch(/hv: snapshot 1 of the guest at step \d+ in .*; it runs on\n/);
    expect(stdout(s)).toBe(whole);
    const frozen = contents(base);
    const r = hv('snapshot', 'revert', snaps, '1', '--pcpus', '1');
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(0);
    expect(whole.endsWith(r.stdout)).toBe(true);
    expect(contents(base).equals(frozen)).toBe(true);
    expect(contents((await host.listSnapshots(snaps)).current.disks[0]!).equals(wholeDisk)).toBe(true);
  });

  it('moves disk N with --move-disk N=PATH', () => {
    const [a, b] = ['cli0.img', 'cli1.img'].map((n) => join(dir, n));
    writeFileSync(a, new Uint8Array(1 << 20));
    writeFileSync(b, randomBytes(1 << 20));
    const before = readFileSync(b);
    const to = join(dir, 'cli1.vhd');
    const r = hv('run', '--pcpus', '1', '-m', '16M', '-drive', `file=${a},format=raw,if=virtio`, '-drive', `file=${b},format=raw,if=virtio`, GUEST, '--move-disk', `1=${to}`);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(whole);
    expect(r.stderr).toMatch(new RegExp(`hv: disk 1 moved to ${to} \\(\\d+ guest writes mirrored\\)`));
    expect(contents(to).equals(before)).toBe(true);
    expect(contents(a).equals(wholeDisk)).toBe(true); // disk 0 stayed where it was
  });
});
