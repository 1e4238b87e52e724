// A live snapshot of Linux on the threaded host while a shell loop appends
// to a file on a mounted ext2 disk (SIGUSR2 to `hv run --snapshot-dir`):
// the guest runs on unaware and powers off cleanly; `hv snapshot revert`
// starts it again from the snapshot in a new process, where the same loop
// is still running, finishes, and the file holds every line once. Both
// disks (the one the first run ended on, and the revert's) check clean.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readManifest } from '../../runtime/persist/snapshot-manifest.ts';
import { linuxImage, LinuxSession } from '../support/linux.ts';
import { ConsoleSession } from '../support/session.ts';

const image = linuxImage();
const LINES = 400;

/** The ext2 file system on VHD `path` (and its parents) checks clean on the host. */
function checksClean(path: string, dir: string, name: string): void {
  const flat = join(dir, `${name}.img`);
  expect(spawnSync(process.execPath, ['bin/hv.js', 'vhd', 'convert', '-O', 'raw', path, flat]).status).toBe(0);
  const fsck = spawnSync('e2fsck', ['-fn', flat], { encoding: 'utf8' });
  if (!fsck.error) expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
}

describe.skipIf(!image)('Linux snapshotted on the threaded host', () => {
  const sessions: LinuxSession[] = [];
  afterEach(() => sessions.splice(0).forEach((s) => s.kill()));

  it(
    'while a loop writes its ext2 disk runs on unaware; a revert finishes the same loop from the snapshot; both disks check clean',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hv-linux-snap-'));
      const disk = join(dir, 'disk.vhd');
      expect(spawnSync(process.execPath, ['bin/hv.js', 'vhd', 'create', '-q', '-f', 'vpc', '-o', 'subformat=dynamic', disk, '32M']).status).toBe(0);
      const snaps = join(dir, 'snaps');
      const first = LinuxSession.boot(image!, 'hv', ['-m', '128M', '--pcpus', '2', '-drive', `file=${disk},if=virtio`, '--snapshot-dir', snaps]);
      sessions.push(first);
      await first.prompt();
      await first.run('mke2fs -q /dev/vda && mount -t ext2 /dev/vda /mnt');
      // Short lines: the console wraps at 80 columns. "mid" once a quarter of the lines are on the disk.
      await first.run('L=/mnt/log');
      const from = first.output.length;
      await first.run(`seq ${LINES}|while read i;do echo $i>>$L;sync;[ $i = ${LINES / 4} ]&&echo mid;done&`);
      await first.console.waitFor(/mid\r?\n/, 120_000, from);
      first.console.signal('SIGUSR2');
      await first.console.waitFor(/hv: snapshot 1 of the guest at step \d+ in .*; it runs on\n/);
      expect(await first.run('wait; wc -l < /mnt/log; tail -n 1 /mnt/log')).toMatch(new RegExp(`^${LINES}\n${LINES}\n`)); // then the shell's job line
      await first.run('umount /mnt');
      expect(await first.poweroff()).toBe(0);
      const ranOn = readManifest(snaps).current.disks[0]!;
      checksClean(ranOn, dir, 'ran-on');

      // From the snapshot: the loop is still under way, and ends with every line written once.
      const second = new LinuxSession(ConsoleSession.hv(['snapshot', 'revert', snaps, '1', '--pcpus', '2']));
      sessions.push(second);
      expect(await second.run('wait; wc -l < /mnt/log; sort /mnt/log | uniq -d | wc -l')).toMatch(new RegExp(`^${LINES}\n0\n`));
      await second.run('umount /mnt');
      expect(await second.poweroff()).toBe(0);
      checksClean(readManifest(snaps).current.disks[0]!, dir, 'reverted');
    },
    600_000,
  );
});
