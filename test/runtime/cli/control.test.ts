// `hv control` end to end: an `hv run` of the vmbus-ic guest with the
// integration components (-device hv-ic) and --control, driven by separate
// `hv control` processes as a person or a script would: its channels, a KVP
// round trip, the heartbeat, bad requests, and a graceful shutdown that
// ends the run. The guest's console must come out exactly as when the host
// drives it in-process (guests/expected/enlightened/vmbus-ic.out).
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const EXPECTED = readFileSync('guests/expected/enlightened/vmbus-ic.out', 'latin1');

/** `hv ARGS...` to its end: exit status and output. */
function hv(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/hv.js', ...args], { encoding: 'utf8', timeout: 30_000 }, (e, stdout, stderr) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

/** A long-running `hv ...`: its output so far, a wait for a marker in it, and its end. */
function start(...args: string[]) {
  const child = spawn(process.execPath, ['bin/hv.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString('latin1')));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString('latin1')));
  const ended = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  return {
    child,
    out: () => stdout,
    err: () => stderr,
    printed: (marker: string) => vi.waitFor(() => expect(stdout).toContain(marker), { timeout: 20_000, interval: 50 }),
    ended,
  };
}

describe('hv control', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hv-control-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('drives a running guest: channels, a KVP round trip, heartbeat, a NIC hot added and removed, then a graceful shutdown ends the run', { retry: 1 }, async () => {
    const sock = join(dir, `run-${process.pid}-${Date.now()}.sock`);
    const run = start('run', '-m', '32M', '-bios', 'hv', '-device', 'hv-ic', '--control', sock, 'guests/bin/enlightened/vmbus-ic.elf');
    try {
      await vi.waitFor(() => expect(existsSync(sock)).toBe(true), { timeout: 20_000, interval: 50 });
      const events = start('control', sock, '--events', '--json');
      // Timesync done, KVP negotiated: the guest waits for two keys in its external pool.
      await run.printed('ok 3 ');
      const listed = await hv('control', sock, 'list');
      expect(listed.stdout).toMatch(/^id +name +state +vcpus +memory +paging +boot +instructions +result\n0 +vmbus-ic +running +1 +32M +direct +enlightened +\d+\n$/);
      expect((await hv('control', sock, 'kvp-write', '0', 'HostName', 'hv-root')).code).toBe(0);
      expect((await hv('control', sock, 'kvp-write', 'vmbus-ic', 'Purpose', 'integration test')).code).toBe(0);
      await run.printed('waiting for shutdown\n');

      const channels = await hv('control', sock, 'channels', 'vmbus-ic');
      expect(channels.stdout.split('\n').slice(0, 5).map((l) => l.split(/ +/).slice(0, 3).join(' '))).toEqual([
        'relid device state', '1 heartbeat open', '2 shutdown open', '3 timesync open', '4 kvp open',
      ]);
      expect(channels.stdout).toMatch(/^1 +heartbeat +open +\d+\/12288 B +\d+\/12288 B$/m);
      const kvp = await hv('control', sock, 'kvp-read', '0', '--json');
      expect(JSON.parse(kvp.stdout)).toEqual({
        auto: { FullyQualifiedDomainName: 'vmbus-ic', OSName: 'hv enlightened guest', ProcessorArchitecture: 'riscv64' },
        guest: { GuestState: 'serving' },
        external: { HostName: 'hv-root', Purpose: 'integration test' },
      });
      const beat = JSON.parse((await hv('control', sock, '--json', 'heartbeat', '0')).stdout) as { state: string; sequence: number };
      expect(beat.state).toBe('ready');
      expect(beat.sequence).toBeGreaterThanOrEqual(3);

      // A NIC hot added on the virtual switch and taken away again; the ICs go on.
      const nic = await hv('control', sock, 'add-nic', 'vmbus-ic', '--mac', '52:54:00:aa:bb:cc');
      expect([nic.stdout, nic.stderr]).toEqual(['5\n', '']);
      const ports = JSON.parse((await hv('control', sock, 'switch-ports', '--json')).stdout) as { partition: number; mac: string }[];
      expect(ports.map((p) => [p.partition, p.mac])).toEqual([[0, '52:54:00:aa:bb:cc']]);
      expect((await hv('control', sock, 'remove-nic', '0', '5')).code).toBe(0);
      expect((await hv('control', sock, 'switch-ports')).stdout).toBe('');

      // Bad requests: one line each, and the guest runs on.
      const missing = await hv('control', sock, 'heartbeat', '7');
      expect([missing.code, missing.stderr]).toEqual([1, 'hv control: heartbeat: PartitionNotFound: no partition 7 (partitions: 0 (vmbus-ic))\n']);
      const refused = await hv('control', sock, 'balloon', '0', '16M');
      expect([refused.code, refused.stderr]).toEqual([1, 'hv control: balloon: Refused: partition vmbus-ic has no memory overcommit (and so no balloon)\n']);
      const usage = await hv('control', sock, 'kvp-write', '0', 'OnlyKey');
      expect([usage.code, usage.stderr]).toEqual([2, 'hv control: kvp-write takes PARTITION KEY VALUE\n']);
      const unknown = await hv('control', sock, 'frobnicate');
      expect([unknown.code, unknown.stderr]).toEqual([2, "hv control: unknown command 'frobnicate' (hv control --help lists them)\n"]);

      const down = await hv('control', sock, 'shutdown', 'vmbus-ic');
      expect([down.code, down.stdout, down.stderr]).toEqual([0, '', '']);
      expect(await run.ended).toBe(0);
      expect(run.out()).toBe(EXPECTED);
      expect(existsSync(sock)).toBe(false);
      // The follower saw the shutdown asked for, the partition's end and the host's, and ended with it.
      expect(await events.ended).toBe(0);
      const seen = events.out().trim().split('\n').map((l) => JSON.parse(l) as { event: string; data: unknown });
      expect(seen.map((e) => [e.event, e.data])).toEqual([
        ['guest-shutdown', { partition: 0, name: 'vmbus-ic' }],
        ['partition-stopped', { partition: 0, name: 'vmbus-ic', result: { kind: 'exit', code: 0, reason: 'sbi' } }],
        ['host-shutdown', {}],
      ]);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('migrates a guest from hv run to hv serve, follows it there and turns it off there', { retry: 1 }, async () => {
    const [s1, s2] = [join(dir, `src-${process.pid}.sock`), join(dir, `dst-${process.pid}.sock`)];
    const serve = start('serve', '--port', '0', '--pcpus', '1', '--control', s2);
    const run = start('run', '--pcpus', '1', '-m', '16M', '--control', s1, 'guests/bin/sched/spin.elf');
    try {
      await vi.waitFor(() => expect(serve.err()).toMatch(/listening on 127\.0\.0\.1:\d+/), { timeout: 20_000, interval: 50 });
      const port = /listening on 127\.0\.0\.1:(\d+)/.exec(serve.err())![1]!;
      await vi.waitFor(() => expect(existsSync(s1) && existsSync(s2)).toBe(true), { timeout: 20_000, interval: 50 });
      const there = start('control', s2, '--events', '--json');
      const moved = await hv('control', s1, 'migrate', 'spin', `127.0.0.1:${port}`, '--json');
      expect(moved.stderr).toBe('');
      expect(JSON.parse(moved.stdout)).toMatchObject({ rounds: expect.any(Number) as number, downtimeMs: expect.any(Number) as number });
      expect(await run.ended).toBe(0); // the guest left: hv run's run ends
      expect(existsSync(s1)).toBe(false);
      const listed = JSON.parse((await hv('control', s2, 'list', '--json')).stdout) as { id: number; name: string; state: string }[];
      expect(listed.map((p) => [p.name, p.state])).toEqual([['spin', 'running']]);
      expect((await hv('control', s2, 'stop', 'spin')).code).toBe(0);
      expect(await serve.ended).toBe(0); // every partition it received has finished
      expect(await there.ended).toBe(0);
      const seen = there.out().trim().split('\n').map((l) => JSON.parse(l) as { event: string; data: unknown });
      expect(seen.map((e) => [e.event, e.data])).toEqual([
        ['partition-added', { partition: listed[0]!.id, name: 'spin' }],
        ['partition-stopped', { partition: listed[0]!.id, name: 'spin', result: { kind: 'off' } }],
        ['host-shutdown', {}],
      ]);
    } finally {
      run.child.kill('SIGKILL');
      serve.child.kill('SIGKILL');
    }
  });

  it("reverts hv run's guest to a snapshot taken through the socket, and the run goes on with the new partition", { retry: 1 }, async () => {
    const sock = join(dir, `snap-${process.pid}.sock`);
    const disk = join(dir, 'snap.vhd');
    expect((await hv('vhd', 'create', disk, '1M')).code).toBe(0);
    const run = start('run', '--pcpus', '1', '-m', '16M', '-drive', `file=${disk},format=vpc,if=virtio`, '--control', sock, 'guests/bin/sched/spin.elf');
    try {
      await vi.waitFor(() => expect(existsSync(sock)).toBe(true), { timeout: 20_000, interval: 50 });
      const snap = await hv('control', sock, 'snapshot', '0', join(dir, 'snaps'), '--name', 'first', '--json');
      expect(JSON.parse(snap.stdout)).toMatchObject({ id: '1', name: 'first' });
      const reverted = await hv('control', sock, 'revert', 'spin', 'first');
      expect([reverted.stdout, reverted.stderr]).toEqual(['1\n', '']); // the new partition, created
      expect((await hv('control', sock, 'start', '1')).code).toBe(0);
      const listed = JSON.parse((await hv('control', sock, 'list', '--json')).stdout) as { id: number; state: string }[];
      expect(listed.map((p) => [p.id, p.state])).toEqual([[1, 'running']]);
      expect((await hv('control', sock, 'stop', '1')).code).toBe(0);
      expect(await run.ended).toBe(1); // the successor's end is the run's
      expect(run.err()).toBe('hv: guest was turned off\n');
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('tells an event follower apart from a host that was killed, and the next host replaces its stale socket', async () => {
    const sock = join(dir, `killed-${process.pid}.sock`);
    const first = start('run', '--pcpus', '1', '-m', '16M', '--control', sock, 'guests/bin/sched/spin.elf');
    await vi.waitFor(() => expect(existsSync(sock)).toBe(true), { timeout: 20_000, interval: 50 });
    const follower = start('control', sock, '--events');
    // Once the follower sees an event it is connected.
    await vi.waitFor(async () => {
      await hv('control', sock, 'pause', '0');
      await hv('control', sock, 'resume', '0');
      expect(follower.out()).toMatch(/ partition-resumed partition=0 name=spin\n/);
    }, { timeout: 20_000, interval: 50 });
    first.child.kill('SIGKILL');
    expect(await follower.ended).toBe(1);
    expect(follower.err()).toBe(`hv control: the host at '${sock}' went away without shutting down\n`);
    expect(existsSync(sock)).toBe(true); // left behind: stale
    const second = start('run', '--pcpus', '1', '-m', '16M', '--control', sock, 'guests/bin/sched/spin.elf');
    try {
      await vi.waitFor(async () => expect((await hv('control', sock, 'quit')).code).toBe(0), { timeout: 20_000, interval: 100 });
      expect(await second.ended).toBe(0);
      expect(existsSync(sock)).toBe(false);
    } finally {
      second.child.kill('SIGKILL');
    }
  });

  it('says in one line when no host listens, and hv run refuses --control where it cannot serve it', async () => {
    const none = await hv('control', join(dir, 'nothing.sock'), 'list');
    expect([none.code, none.stderr]).toEqual([2, `hv control: control socket '${join(dir, 'nothing.sock')}': no such socket (is the host running with --control?)\n`]);
    const det = await hv('run', '--icount', '--control', join(dir, 'x.sock'), 'guests/bin/hello.elf');
    expect(det.code).toBe(2);
    expect(det.stderr).toMatch(/^hv run: --control drives the threaded host/);
    const help = await hv('control', '--help');
    expect(help.stdout).toMatch(/^ {2}kvp-write PARTITION KEY VALUE +push a key/m);
    expect(help.stdout).toMatch(/^ {2}guest-shutdown PARTITION \[--reboot\] +ask the guest/m);
  });
});
