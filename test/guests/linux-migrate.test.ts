// Live migration of Linux between two threaded `hv` processes: started with
// SIGUSR1 while the guest runs a CPU loop that keeps writing its tmpfs, it
// moves (the source ends with status 0), and on the target the loop is
// still counting, typed commands answer, and the guest powers off with 0.
import { afterEach, describe, expect, it } from 'vitest';
import { linuxImage, LinuxSession } from '../support/linux.ts';

const image = linuxImage();
const TEST_MS = 600_000;

describe.skipIf(!image)('Linux guest live-migrated', () => {
  const sessions: LinuxSession[] = [];
  afterEach(() => sessions.splice(0).forEach((s) => s.kill()));

  it(
    'while a loop writes its tmpfs reaches the shell on the target, with the loop still running',
    async () => {
      const target = LinuxSession.serve(['--port', '0', '--pcpus', '1']);
      sessions.push(target);
      const port = Number(/listening on [\d.]+:(\d+)/.exec(await target.console.waitFor(/listening on [\d.]+:\d+/))![1]);
      const source = LinuxSession.boot(image!, 'hv', ['-m', '128M', '--pcpus', '1', '--migrate-to', `127.0.0.1:${port}`]);
      sessions.push(source);
      await source.prompt();
      // The count is written whole and renamed into place: a reader never sees the file empty.
      await source.run('cd /tmp');
      await source.run('(i=0; while :; do i=$((i+1)); echo $i >n; mv n count; done) &');
      await source.run('sleep 1; cat /tmp/count');
      source.console.signal('SIGUSR1');
      await source.console.waitFor(/migrated the guest to 127\.0\.0\.1:\d+: \d+ rounds, [\d.]+ MiB sent, total \d+ ms, downtime [\d.]+ ms/, 120_000);
      expect(await source.console.exited).toBe(0);
      expect(source.output).toMatch(/hv: migrating \S+ to 127\.0\.0\.1:\d+: round 1: dirty [\d.]+ MB\/s, \d+ KiB left, expected downtime [\d.]+ ms/);
      const a = Number((await target.run('cat /tmp/count')).trim());
      const b = Number((await target.run('sleep 1; cat /tmp/count')).trim());
      expect(a).toBeGreaterThan(0);
      expect(b).toBeGreaterThan(a); // the loop runs on, here
      expect((await target.run('echo $((6 * 7))')).trim()).toBe('42');
      expect(await target.poweroff()).toBe(0);
    },
    TEST_MS,
  );
});
