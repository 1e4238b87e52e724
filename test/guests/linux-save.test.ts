// Quick migration of Linux: a guest saved at its shell prompt (SIGUSR1 to
// `hv run --save`) and started again by `hv restore` in a new process, on
// the other host mode, answers typed commands, keeps its time and its file
// systems (a tmpfs file and a mounted ext2 disk, raw or VHD, written before
// the save and after it, checking clean on the host afterwards), reboots
// (its images loaded again) and powers off with status 0.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { linuxImage, LinuxSession } from '../support/linux.ts';

const image = linuxImage();
const TEST_MS = 600_000;

/** A 32 MiB disk: raw zeros, or a dynamic VHD made by `hv vhd create`. */
function disk(dir: string, format: 'raw' | 'vpc'): string {
  const path = join(dir, format === 'raw' ? 'disk.img' : 'disk.vhd');
  if (format === 'raw') writeFileSync(path, new Uint8Array(32 << 20));
  else expect(spawnSync(process.execPath, ['bin/hv.js', 'vhd', 'create', '-q', '-f', 'vpc', '-o', 'subformat=dynamic', path, '32M']).status).toBe(0);
  return path;
}

describe.skipIf(!image)('Linux guest saved at its prompt', () => {
  const sessions: LinuxSession[] = [];
  afterEach(() => sessions.splice(0).forEach((s) => s.kill()));

  // Saved on one host mode and restored on the other: the state does not depend on it.
  it.each([
    ['the deterministic host', 'the threaded host', 'raw', ['--deterministic'], []],
    ['the threaded host (2 pCPUs)', 'the deterministic host', 'VHD', ['--pcpus', '2'], ['--deterministic']],
  ] as const)(
    'saved on %s runs on in a new hv process on %s: typed commands, uptime, tmpfs and a mounted ext2 %s disk go on',
    async (_from, _to, kind, saveArgs, restoreArgs) => {
      const format = kind === 'raw' ? 'raw' : 'vpc';
      const dir = mkdtempSync(join(tmpdir(), 'hv-linux-save-'));
      const file = join(dir, 'linux.hvs');
      const path = disk(dir, format);
      const first = LinuxSession.boot(image!, 'hv', ['-m', '128M', ...saveArgs, '-drive', `file=${path},format=${format},if=virtio`, '--save', file]);
      sessions.push(first);
      await first.prompt();
      expect(await first.run('echo before > /tmp/mark; cat /tmp/mark')).toBe('before\n');
      await first.run('mke2fs -q /dev/vda');
      await first.run('mount -t ext2 /dev/vda /mnt');
      await first.run('echo written before > /mnt/log');
      const up0 = Number((await first.run('cut -d. -f1 /proc/uptime')).trim());
      first.console.signal('SIGUSR1');
      expect(await first.console.exited).toBe(0);
      expect(first.output).toMatch(/hv: saved the guest (at step \d+ )?to .*linux\.hvs: [\d.]+ MiB/);
      expect(statSync(file).size).toBeLessThan(128 << 20);

      const second = LinuxSession.restore(file, [...restoreArgs]);
      sessions.push(second);
      expect(await second.run('cat /tmp/mark')).toBe('before\n');
      expect(await second.run('echo hello after restore')).toBe('hello after restore\n');
      const up1 = Number((await second.run('sleep 1; cut -d. -f1 /proc/uptime')).trim());
      expect(up1).toBeGreaterThanOrEqual(up0 + 1);
      expect(up1).toBeLessThan(up0 + 120); // time went on from the save, not from the host's clock
      await second.run('echo written after >> /mnt/log');
      expect(await second.run('cat /mnt/log')).toBe('written before\nwritten after\n');
      await second.run('umount /mnt');
      // A reboot loads the saved partition's images again (from their saved paths).
      const at = second.output.length;
      second.console.type('reboot\n');
      await second.console.waitFor(/hv-linux: userspace up/, 240_000, at);
      await second.prompt(second.output.lastIndexOf('hv-linux: userspace up'));
      expect(await second.run('cat /tmp/mark 2>&1')).toMatch(/No such file/);
      expect(await second.poweroff()).toBe(0);

      // The file system checks clean on the host.
      let raw = path;
      if (format === 'vpc') {
        expect(spawnSync(process.execPath, ['bin/hv.js', 'vhd', 'check', path]).status).toBe(0);
        raw = join(dir, 'flat.img');
        expect(spawnSync(process.execPath, ['bin/hv.js', 'vhd', 'convert', '-O', 'raw', path, raw]).status).toBe(0);
      }
      const fsck = spawnSync('e2fsck', ['-fn', raw], { encoding: 'utf8' });
      if (!fsck.error) expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
    },
    TEST_MS,
  );
});
