// Live migration of Linux between two threaded `hv` processes, started with
// SIGUSR1 to `hv run --migrate-to` and received by `hv serve`: the source
// ends with status 0 and the guest runs on at the target. While a CPU loop
// keeps writing its tmpfs, the loop is still counting there, typed commands
// answer, and the guest powers off with 0. While a loop appends and syncs
// lines to a mounted ext2 disk (the disk moves by reference: both processes
// open the same file), the loop finishes there with every line written once,
// and the image checks clean.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { expectExt2Clean, newVhd } from '../support/disk.ts';
import { linuxImage, LinuxSession } from '../support/linux.ts';

const image = linuxImage();
const TEST_MS = 600_000;
const LINES = 400;

describe.skipIf(!image)('Linux guest live-migrated', () => {
  const sessions: LinuxSession[] = [];
  afterEach(() => sessions.splice(0).forEach((s) => s.kill()));

  /** `hv serve` on a free port, and the Linux guest booted with `--migrate-to` it (and `args`), at its prompt. */
  async function sourceAndTarget(args: string[] = []): Promise<{ source: LinuxSession; target: LinuxSession }> {
    const target = LinuxSession.serve(['--port', '0', '--pcpus', '1']);
    sessions.push(target);
    const port = Number(/listening on [\d.]+:(\d+)/.exec(await target.console.waitFor(/listening on [\d.]+:\d+/))![1]);
    const source = LinuxSession.boot(image!, 'hv', ['-m', '128M', '--pcpus', '1', '--migrate-to', `127.0.0.1:${port}`, ...args]);
    sessions.push(source);
    await source.prompt();
    return { source, target };
  }

  /** SIGUSR1 to the source: it reports the migration done and ends with status 0. */
  async function migrate(source: LinuxSession): Promise<void> {
    source.console.signal('SIGUSR1');
    await source.console.waitFor(/migrated the guest to 127\.0\.0\.1:\d+: \d+ rounds, [\d.]+ MiB sent, total \d+ ms, downtime [\d.]+ ms/, 120_000);
    expect(await source.console.exited).toBe(0);
    expect(source.output).toMatch(/hv: migrating \S+ to 127\.0\.0\.1:\d+: round 1: dirty [\d.]+ MB\/s, \d+ KiB left, expected downtime [\d.]+ ms/);
  }

  it(
    'while a loop writes its tmpfs reaches the shell on the target, with the loop still running',
    async () => {
      const { source, target } = await sourceAndTarget();
      // The count is written whole and renamed into place: a reader never sees the file empty.
      await source.run('cd /tmp');
      await source.run('(i=0; while :; do i=$((i+1)); echo $i >n; mv n count; done) &');
      await source.run('sleep 1; cat /tmp/count');
      await migrate(source);
      const a = Number((await target.run('cat /tmp/count')).trim());
      const b = Number((await target.run('sleep 1; cat /tmp/count')).trim());
      expect(a).toBeGreaterThan(0);
      expect(b).toBeGreaterThan(a); // the loop runs on, here
      expect((await target.run('echo $((6 * 7))')).trim()).toBe('42');
      expect(await target.poweroff()).toBe(0);
    },
    TEST_MS,
  );

  it(
    'while a loop appends and syncs lines to its ext2 disk finishes the loop on the target with every line once, and the disk checks clean',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hv-linux-migrate-'));
      const disk = newVhd(dir, 'disk.vhd', 32 << 20);
      const { source, target } = await sourceAndTarget(['-drive', `file=${disk},if=virtio`]);
      await source.startDiskLog(LINES);
      await migrate(source);
      // Moved mid-loop: the first look on the target finds lines still to come.
      expect(Number((await target.run('wc -l < /mnt/log')).trim())).toBeLessThan(LINES);
      expect(await target.finishDiskLog()).toEqual({ lines: LINES, duplicated: 0 });
      expect(await target.poweroff()).toBe(0);
      expectExt2Clean(disk, dir, 'migrated');
    },
    TEST_MS,
  );
});
