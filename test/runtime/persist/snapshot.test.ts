// Live snapshots, revert, delete, linked clones and storage migration on
// the deterministic host, against uninterrupted runs of the same guest:
// disk_writer.elf writes its disk for most of its run, so every operation
// below happens while it writes. Output, exit status, the state at a later
// step and the disks' bytes must be exactly those of the run never touched.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../../../runtime/persist/snapshot-manifest.ts';
import { contents, newVhd as newVhdIn } from '../../support/disk.ts';
import { guestState, hv } from '../../support/save.ts';

const GUEST = 'guests/bin/disk_writer.elf';
const AT = 1_234_567; // mid pass 1
const LATER = 2_500_001; // reading back
let dir: string;
let whole: { stdout: string; code: number | null; stderr: string };

const run = (disk: string, ...more: string[]) => hv('run', '-m', '16M', '-drive', `file=${disk},if=virtio`, GUEST, ...more);
const qemuImg = spawnSync('qemu-img', ['--version']).status === 0;

const newVhd = (name: string) => newVhdIn(dir, name);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hv-snap-'));
  const w = newVhd('whole.vhd');
  whole = run(w, '--icount');
  expect(whole.code).toBe(0);
  expect(whole.stdout).toContain('PASSED all 4 checks');
});

describe('a live snapshot', () => {
  it('leaves the guest running unaware, freezes the disk at the snapshot, and a revert replays the uninterrupted run from there', () => {
    const pre = newVhd('pre.vhd');
    const upTo = run(pre, '--save', join(dir, 'pre.hvs'), '--save-after-insns', String(AT)); // the output and disk at AT
    const base = newVhd('base.vhd');
    const snaps = join(dir, 'a');
    const s = run(base, '--snapshot-dir', snaps, '--snapshot-after-insns', String(AT));
    expect(s.stderr).toContain(`snapshot 1 of the guest at step ${AT}`);
    expect(s.stdout).toBe(whole.stdout);
    expect(s.code).toBe(0);
    // Writes after the snapshot are on the child; the parent is the disk as it was at the snapshot.
    const man = readManifest(snaps);
    expect(contents(base).equals(contents(pre))).toBe(true);
    expect(contents(man.current.disks[0]!).equals(contents(join(dir, 'whole.vhd')))).toBe(true);
    expect(contents(base).equals(contents(join(dir, 'whole.vhd')))).toBe(false);
    // Revert: the writes since are discarded, the run from AT is the uninterrupted one's.
    const abandoned = man.current.disks[0]!;
    const r = hv('snapshot', 'revert', snaps, '1', '--save', join(dir, 'rev.hvs'), '--save-after-insns', String(LATER));
    expect(existsSync(abandoned)).toBe(false);
    const w = hv('run', '-m', '16M', '-drive', `file=${newVhd('w2.vhd')},if=virtio`, GUEST, '--save', join(dir, 'w.hvs'), '--save-after-insns', String(LATER));
    expect(guestState(join(dir, 'rev.hvs'))).toEqual(guestState(join(dir, 'w.hvs')));
    expect(upTo.stdout + r.stdout).toBe(w.stdout);
    // And to the end, from the same snapshot again.
    const end = hv('snapshot', 'revert', snaps, '1');
    expect(upTo.stdout + end.stdout).toBe(whole.stdout);
    expect(end.code).toBe(whole.code);
    expect(contents(readManifest(snaps).current.disks[0]!).equals(contents(join(dir, 'whole.vhd')))).toBe(true);
    expect(hv('snapshot', 'list', snaps).stdout).toMatch(/^1 {2}snapshot 1 {2}\(step 1234567, .*\)\n {2}\* now\n$/);
  });

  it('deleted, merges its disk so that every later snapshot and the running chain read the same bytes', () => {
    const base = newVhd('del.vhd');
    const snaps = join(dir, 'del');
    expect(run(base, '--snapshot-dir', snaps, ...['500000', '1500000', '2200000'].flatMap((n) => ['--snapshot-after-insns', n])).code).toBe(0);
    const before = readManifest(snaps);
    // Digests: comparing MiB-long buffers element by element is slow.
    const digest = (path: string) => createHash('sha256').update(contents(path)).digest('hex');
    const reads = (m: typeof before) => [...m.snapshots.map((s) => digest(s.disks[0]!)), digest(m.current.disks[0]!)];
    const [s1, , s3, now] = reads(before);
    // The middle one: its disk is merged into the next snapshot's, which keeps its name.
    expect(hv('snapshot', 'delete', snaps, '3').code).toBe(0);
    let after = readManifest(snaps);
    expect(after.snapshots.map((s) => [s.id, s.parent])).toEqual([['1', null], ['5', '1']]);
    expect(reads(after)).toEqual([s1, s3, now]);
    expect(hv('vhd', 'check', after.current.disks[0]!).code).toBe(0);
    // The last one: the running disk is merged into the snapshot's.
    expect(hv('snapshot', 'delete', snaps, '5').code).toBe(0);
    after = readManifest(snaps);
    expect(reads(after)).toEqual([s1, now]);
    // The first: everything comes home to the base image.
    expect(hv('snapshot', 'delete', snaps, '1').code).toBe(0);
    after = readManifest(snaps);
    expect(after.current.disks).toEqual([base]);
    expect(digest(base)).toBe(now);
    expect(readdirSync(snaps).sort()).toEqual(['snapshots.json']);
    expect(hv('vhd', 'check', base).code).toBe(0);
    if (qemuImg) {
      expect(spawnSync('qemu-img', ['compare', '-f', 'vpc', '-F', 'vpc', base, join(dir, 'whole.vhd')]).status).toBe(0);
    }
  });

  it('gives a linked clone that runs from the snapshot on a disk of its own, the original untouched', () => {
    const base = newVhd('clone-base.vhd');
    const snaps = join(dir, 'orig');
    const upTo = run(newVhd('clone-pre.vhd'), '--save', join(dir, 'clone-pre.hvs'), '--save-after-insns', String(AT));
    expect(run(base, '--snapshot-dir', snaps, '--snapshot-after-insns', String(AT)).code).toBe(0);
    const original = readManifest(snaps).current.disks[0]!;
    const mine = contents(original);
    const c = hv('snapshot', 'clone', snaps, '1', join(dir, 'clone'));
    expect(upTo.stdout + c.stdout).toBe(whole.stdout);
    const cloneDisk = readManifest(join(dir, 'clone')).current.disks[0]!;
    expect(contents(cloneDisk).equals(contents(join(dir, 'whole.vhd')))).toBe(true);
    expect(contents(original).equals(mine)).toBe(true);
    // The snapshot is the clone's parent disk: it cannot be deleted under it.
    const d = hv('snapshot', 'delete', snaps, '1');
    expect(d.code).toBe(2);
    expect(d.stderr).toContain('linked clone');
  });
});

describe('storage migration', () => {
  for (const target of ['moved.vhd', 'moved.img']) {
    it(`moves a disk the guest is writing to a new ${target.endsWith('.vhd') ? 'VHD' : 'raw'} image, the guest unaware`, () => {
      const src = join(dir, `src-${target}.img`);
      writeFileSync(src, new Uint8Array(1 << 20));
      const wholeRaw = join(dir, `whole-${target}.img`);
      copyFileSync(src, wholeRaw);
      const w = hv('run', '--icount', '-m', '16M', '-drive', `file=${wholeRaw},format=raw,if=virtio`, GUEST);
      const to = join(dir, target);
      const r = hv('run', '-m', '16M', '-drive', `file=${src},format=raw,if=virtio`, GUEST, '--move-disk', to, '--move-after-insns', '600000');
      expect(r.stdout).toBe(w.stdout);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/disk 0 moved to .* at step \d+ \([1-9]\d* guest writes mirrored\)/);
      expect(contents(to).equals(readFileSync(wholeRaw))).toBe(true);
      // The old file stopped where the switch was: the writes after it are only on the new one.
      expect(readFileSync(src).equals(readFileSync(wholeRaw))).toBe(false);
      if (qemuImg) {
        const fmt = target.endsWith('.vhd') ? 'vpc' : 'raw';
        const cmp = spawnSync('qemu-img', ['compare', '-f', 'raw', '-F', fmt, wholeRaw, to], { encoding: 'utf8' });
        expect(cmp.stdout).toContain('Images are identical');
      }
    });
  }
});

describe('snapshot input that cannot be used is refused, nothing half-done', () => {
  const refused = (r: { code: number | null; stderr: string; stdout?: string }, what: RegExp) => {
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(r.stderr).toMatch(what);
  };

  it('a corrupt manifest, an unknown snapshot, a missing parent disk', () => {
    const base = newVhd('bad.vhd');
    const snaps = join(dir, 'bad');
    expect(run(base, '--snapshot-dir', snaps, '--snapshot-after-insns', '300000').code).toBe(0);
    const files = readdirSync(snaps).sort();
    const manifest = readFileSync(join(snaps, 'snapshots.json'));
    refused(hv('snapshot', 'revert', snaps, '9'), /snapshot '9': is not in the tree/);
    writeFileSync(join(snaps, 'snapshots.json'), manifest.subarray(0, 100));
    refused(hv('snapshot', 'list', snaps), /is not valid JSON/);
    const edited = JSON.parse(manifest.toString());
    edited.snapshots[0].parent = '7';
    writeFileSync(join(snaps, 'snapshots.json'), JSON.stringify(edited));
    refused(hv('snapshot', 'list', snaps), /snapshots\[0\]\.parent: names no snapshot/);
    writeFileSync(join(snaps, 'snapshots.json'), manifest);
    copyFileSync(base, join(dir, 'bad.keep'));
    spawnSync('mv', [base, join(dir, 'bad.gone')]);
    refused(hv('snapshot', 'revert', snaps, '1'), /disk 0: cannot make a differencing disk over/);
    expect(readdirSync(snaps).sort()).toEqual(files);
    expect(readFileSync(join(snaps, 'snapshots.json')).equals(manifest)).toBe(true);
  });

  it('a partition without disks, and a raw disk', () => {
    refused(hv('run', 'guests/bin/interrupts.elf', '--snapshot-dir', join(dir, 'none'), '--snapshot-after-insns', '1000'), /has no disks/);
    const raw = join(dir, 'raw.img');
    writeFileSync(raw, new Uint8Array(1 << 20));
    refused(run(raw, '--snapshot-dir', join(dir, 'raw'), '--snapshot-after-insns', '1000'), /raw image, which cannot take a differencing child/);
  });
});
