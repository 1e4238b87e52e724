// A live snapshot of Linux on the threaded host while a shell loop appends
// to a file on a mounted ext2 disk (SIGUSR2 to `hv run --snapshot-dir`):
// the guest runs on unaware and powers off cleanly; `hv snapshot revert`
// starts it again from the snapshot in a new process, where the same loop
// is still running, finishes, and the file holds every line once. Both
// disks (the one the first run ended on, and the revert's) check clean.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readManifest } from '../../runtime/persist/snapshot-manifest.ts';
import { expectExt2Clean, newVhd } from '../support/disk.ts';
import { linuxImage, LinuxSession } from '../support/linux.ts';
import { ConsoleSession } from '../support/session.ts';

const image = linuxImage();
const LINES = 400;

describe.skipIf(!image)('Linux snapshotted on the threaded host', () => {
  const sessions: LinuxSession[] = [];
  afterEach(() => sessions.splice(0).forEach((s) => s.kill()));

  it(
    'while a loop writes its ext2 disk runs on unaware; a revert finishes the same loop from the snapshot; both disks check clean',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hv-linux-snap-'));
      const disk = newVhd(dir, 'disk.vhd', 32 << 20);
      const snaps = join(dir, 'snaps');
      const first = LinuxSession.boot(image!, 'hv', ['-m', '128M', '--pcpus', '2', '-drive', `file=${disk},if=virtio`, '--snapshot-dir', snaps]);
      sessions.push(first);
      await first.prompt();
      await first.startDiskLog(LINES);
      first.console.signal('SIGUSR2');
      await first.console.waitFor(/hv: snapshot 1 of the guest at step \d+ in .*; it runs on\n/);
      expect(await first.finishDiskLog()).toEqual({ lines: LINES, duplicated: 0 });
      expect(await first.poweroff()).toBe(0);
      const ranOn = readManifest(snaps).current.disks[0]!;
      expectExt2Clean(ranOn, dir, 'ran-on');

      // From the snapshot: the loop is still under way, and ends with every line written once.
      const second = new LinuxSession(ConsoleSession.hv(['snapshot', 'revert', snaps, '1', '--pcpus', '2']));
      sessions.push(second);
      expect(await second.finishDiskLog()).toEqual({ lines: LINES, duplicated: 0 });
      expect(await second.poweroff()).toBe(0);
      expectExt2Clean(readManifest(snaps).current.disks[0]!, dir, 'reverted');
    },
    600_000,
  );
});
