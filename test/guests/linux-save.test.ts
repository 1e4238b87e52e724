// Quick migration of Linux: a guest saved at its shell prompt (SIGUSR1 to
// `hv run --save`) and started again by `hv restore` in a new process, on
// the other host mode,
// answers typed commands, keeps its time and file system (a file written
// before the save is there after), and powers off with status 0.
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { linuxImage, LinuxSession } from '../support/linux.ts';

const image = linuxImage();
const TEST_MS = 600_000;

describe.skipIf(!image)('Linux guest saved at its prompt', () => {
  const sessions: LinuxSession[] = [];
  afterEach(() => sessions.splice(0).forEach((s) => s.kill()));

  // Saved on one host mode and restored on the other: the state does not depend on it.
  it.each([
    ['the deterministic host', 'the threaded host', ['--deterministic'], []],
    ['the threaded host (2 pCPUs)', 'the deterministic host', ['--pcpus', '2'], ['--deterministic']],
  ])(
    'saved on %s runs on in a new hv process on %s: typed commands work, uptime goes on, a file written before is there',
    async (_from, _to, saveArgs, restoreArgs) => {
      const dir = mkdtempSync(join(tmpdir(), 'hv-linux-save-'));
      const file = join(dir, 'linux.hvs');
      const first = LinuxSession.boot(image!, 'hv', ['-m', '128M', ...saveArgs, '--save', file]);
      sessions.push(first);
      await first.prompt();
      expect(await first.run('echo before > /tmp/mark; cat /tmp/mark')).toBe('before\n');
      const up0 = Number((await first.run('cut -d. -f1 /proc/uptime')).trim());
      first.console.signal('SIGUSR1');
      expect(await first.console.exited).toBe(0);
      expect(first.output).toMatch(/hv: saved the guest (at step \d+ )?to .*linux\.hvs: [\d.]+ MiB/);
      expect(statSync(file).size).toBeLessThan(128 << 20);

      const second = LinuxSession.restore(file, restoreArgs);
      sessions.push(second);
      expect(await second.run('cat /tmp/mark')).toBe('before\n');
      expect(await second.run('echo hello after restore')).toBe('hello after restore\n');
      const up1 = Number((await second.run('sleep 1; cut -d. -f1 /proc/uptime')).trim());
      expect(up1).toBeGreaterThanOrEqual(up0 + 1);
      expect(up1).toBeLessThan(up0 + 120); // time went on from the save, not from the host's clock
      expect(await second.poweroff()).toBe(0);
    },
    TEST_MS,
  );
});
