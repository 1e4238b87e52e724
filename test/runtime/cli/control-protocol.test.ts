// The control socket's protocol (runtime/control/, docs/control.md) against
// an in-process server over a scripted HostController: what every client
// gets for good and bad requests, events, many clients, and the socket file.
import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ControlClient, ControlReplyError } from '../../../runtime/control/client.ts';
import { MAX_CLIENTS, ControlServer } from '../../../runtime/control/server.ts';
import { MAX_QUEUED, MAX_UNREAD_BYTES } from '../../../runtime/control/session.ts';
import { MAX_REQUEST_BYTES } from '../../../runtime/control/protocol.ts';
import { ControlError, type HostController, type PartitionInfo } from '../../../runtime/host/controller.ts';
import type { RunResult } from '../../../runtime/machine/machine.ts';
import { InputError } from '../../../runtime/errors.ts';
import { COMMANDS } from '../../../runtime/control/commands.ts';
import { Host } from '../../../runtime/host/host.ts';
import { formatReply } from '../../../runtime/cli/control-format.ts';

/** A host with one running partition, 'guest' (id 3), whose verbs record their calls. */
function scriptedHost() {
  const calls: [string, ...unknown[]][] = [];
  let finish!: (r: RunResult) => void;
  const ended = new Promise<RunResult>((resolve) => (finish = resolve));
  const info: PartitionInfo = {
    id: 3, name: 'guest', state: 'running', vcpus: 1, memory: 32 << 20, paging: 'direct', boot: 'enlightened',
    sched: { weight: 256, cap: 0, reservation: 0 }, instructions: 1000,
  };
  let release: () => void = () => {};
  const host = {
    list: async () => [{ ...info }],
    wait: () => ended,
    kvpWrite: async (...a: unknown[]) => void calls.push(['kvpWrite', ...a]),
    balloon: async (...a: unknown[]) => (calls.push(['balloon', ...a]), { targetBytes: a[1], actualBytes: 32 << 20, guestStats: {} }),
    guestShutdown: async (...a: unknown[]) => void calls.push(['guestShutdown', ...a]),
    pause: async (id: number) => {
      if (info.state !== 'running') throw new ControlError(`partition guest is ${info.state}, not running`);
      info.state = 'paused';
      calls.push(['pause', id]);
    },
    migrate: async (...a: unknown[]) => (calls.push(['migrate', ...a]), { rounds: 1 }),
    balloonPolicy: async (o: unknown) => (calls.push(['balloonPolicy', o]), o),
    addVmbusDisk: async (_: number, d: { path: string }) => {
      throw new InputError(`cannot open '${d.path}': ENOENT`);
    },
    heartbeat: async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'status')");
    },
    // Answers only when the test lets it: a command in flight.
    kvpRead: (id: number) => {
      calls.push(['kvpRead', id]);
      return new Promise((resolve) => (release = () => resolve({ auto: {}, guest: {}, external: {} })));
    },
  };
  return { host: host as unknown as HostController, calls, finish: (r: RunResult) => finish(r), release: () => release() };
}

/** A raw connection: what the server writes, line by line. */
async function raw(path: string): Promise<{ socket: Socket; next: () => Promise<Record<string, unknown>> }> {
  const socket = connect(path);
  const lines: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  let buf = '';
  socket.on('data', (b) => {
    buf += b.toString('utf8');
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiting.shift();
      if (w) w(l);
      else lines.push(l);
    }
  });
  await new Promise((resolve) => socket.once('connect', resolve));
  const next = () => new Promise<string>((resolve) => (lines.length ? resolve(lines.shift()!) : waiting.push(resolve))).then((l) => JSON.parse(l) as Record<string, unknown>);
  return { socket, next };
}

describe('control socket', () => {
  let dir: string;
  let path: string;
  let server: ControlServer | undefined;
  let script: ReturnType<typeof scriptedHost>;
  let quits = 0;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hv-control-'));
    path = join(dir, 'hv.sock');
    script = scriptedHost();
    quits = 0;
    server = await ControlServer.listen({ path, host: script.host, kind: 'run', quit: () => quits++ });
  });
  afterEach(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('greets each client with the protocol, its version and every command and event', async () => {
    const c = await ControlClient.connect(path);
    expect(c.greeting).toMatchObject({ protocol: 'hv-control', version: 1, host: 'run', pid: process.pid });
    expect(c.greeting.commands).toEqual(expect.arrayContaining(['list', 'channels', 'kvp-read', 'kvp-write', 'heartbeat', 'guest-shutdown', 'switch-ports', 'balloon', 'snapshot', 'revert', 'add-disk', 'remove-device', 'save', 'migrate', 'quit']));
    expect(c.greeting.events).toEqual(expect.arrayContaining(['partition-stopped', 'partition-migrated', 'host-shutdown']));
    c.close();
  });

  it('runs a command on its verb with the arguments checked and converted, and echoes the id', async () => {
    const { socket, next } = await raw(path);
    await next(); // greeting
    socket.write('{"id":"a","execute":"kvp-write","arguments":{"partition":"guest","key":"K","value":"V"}}\n');
    expect(await next()).toEqual({ id: 'a', return: {} });
    socket.write('{"id":7,"execute":"balloon","arguments":{"partition":3,"target":"16M"}}\n');
    expect(await next()).toEqual({ id: 7, return: { targetBytes: 16 << 20, actualBytes: 32 << 20, guestStats: {} } });
    socket.write('{"execute":"migrate","arguments":{"partition":3,"to":"10.0.0.2:4444","linkRate":1000}}\n');
    expect(await next()).toEqual({ return: { rounds: 1 } });
    socket.write('{"id":8,"execute":"balloon-policy","arguments":{"budgetBytes":"1G","intervalMs":500}}\n{"id":9,"execute":"balloon-policy","arguments":{"off":true}}\n');
    expect(await next()).toEqual({ id: 8, return: { budgetBytes: 1 << 30, intervalMs: 500 } });
    expect(await next()).toEqual({ id: 9, return: {} }); // null: off
    expect(script.calls).toEqual([
      ['kvpWrite', 3, 'K', 'V'],
      ['balloon', 3, 16 << 20],
      ['migrate', 3, { host: '10.0.0.2', port: 4444 }, { linkRate: 1000 }],
      ['balloonPolicy', { budgetBytes: 1 << 30, intervalMs: 500 }],
      ['balloonPolicy', null],
    ]);
    socket.destroy();
  });

  it('answers bad requests with typed errors and keeps serving the connection', async () => {
    const { socket, next } = await raw(path);
    await next();
    const bad: [string, string, RegExp][] = [
      ['{"execute":', 'BadRequest', /not JSON/],
      ['[1,2]', 'BadRequest', /a JSON object/],
      ['{"id":1}', 'BadRequest', /names its command in "execute"/],
      ['{"id":2,"execute":"list","extra":1}', 'BadRequest', /unknown field "extra"/],
      ['{"id":3,"execute":"list","arguments":[]}', 'BadRequest', /"arguments" is an object/],
      ['{"id":4,"execute":"frobnicate"}', 'CommandNotFound', /no command 'frobnicate'/],
      ['{"id":5,"execute":"kvp-write","arguments":{"partition":3,"key":"K"}}', 'InvalidArgument', /'value' is missing/],
      ['{"id":6,"execute":"kvp-write","arguments":{"partition":3,"key":5,"value":"V"}}', 'InvalidArgument', /'key' must be a string, got 5/],
      ['{"id":7,"execute":"list","arguments":{"partition":3}}', 'InvalidArgument', /no argument 'partition'/],
      ['{"id":8,"execute":"balloon","arguments":{"partition":3,"target":"lots"}}', 'InvalidArgument', /invalid size 'lots'/],
      ['{"id":9,"execute":"migrate","arguments":{"partition":3,"to":"nowhere"}}', 'InvalidArgument', /"HOST:PORT"/],
      ['{"id":10,"execute":"guest-shutdown","arguments":{"partition":3,"reboot":"yes"}}', 'InvalidArgument', /'reboot' must be true or false/],
      ['{"id":11,"execute":"heartbeat","arguments":{"partition":-1}}', 'InvalidArgument', /a partition id or name/],
      ['{"id":12,"execute":"heartbeat","arguments":{"partition":9}}', 'PartitionNotFound', /no partition 9 \(partitions: 3 \(guest\)\)/],
      ['{"id":13,"execute":"heartbeat","arguments":{"partition":"other"}}', 'PartitionNotFound', /no partition "other"/],
    ];
    for (const [line, cls, desc] of bad) {
      socket.write(line + '\n');
      const r = (await next()) as { error: { class: string; desc: string } };
      expect(r.error.class, line).toBe(cls);
      expect(r.error.desc, line).toMatch(desc);
    }
    socket.write('{"id":"still","execute":"list"}\n');
    expect(await next()).toMatchObject({ id: 'still', return: [{ id: 3, name: 'guest' }] });
    socket.destroy();
  });

  it("classes the host's own errors: refused, bad input, and a bug as an internal error the host survives", async () => {
    const c = await ControlClient.connect(path);
    const error = (p: Promise<unknown>) => p.then(() => undefined, (e: ControlReplyError) => [e.errorClass, e.message]);
    expect(await c.execute('pause', { partition: 3 })).toEqual({});
    expect(await error(c.execute('pause', { partition: 3 }))).toEqual(['Refused', 'partition guest is paused, not running']);
    expect(await error(c.execute('add-disk', { partition: 3, path: '/nonexistent.vhd' }))).toEqual(['InputError', "cannot open '/nonexistent.vhd': ENOENT"]);
    expect(await error(c.execute('heartbeat', { partition: 3 }))).toEqual(['InternalError', "Cannot read properties of undefined (reading 'status')"]);
    expect(await c.execute('list')).toHaveLength(1);
    c.close();
  });

  it('skips a line over the cap with LineTooLong and reads the next one', async () => {
    const { socket, next } = await raw(path);
    await next();
    socket.write(`{"id":1,"execute":"kvp-write","arguments":{"partition":3,"key":"K","value":"${'x'.repeat(MAX_REQUEST_BYTES)}"}}\n{"id":2,"execute":"list"}\n`);
    expect(await next()).toMatchObject({ error: { class: 'LineTooLong' } });
    expect(await next()).toMatchObject({ id: 2, return: [{ id: 3 }] });
    expect(script.calls).toEqual([]);
    socket.destroy();
  });

  it('completes a command whose client went away, and serves the others meanwhile', async () => {
    const { socket, next } = await raw(path);
    await next();
    socket.write('{"id":1,"execute":"kvp-read","arguments":{"partition":3}}\n');
    await vi.waitFor(() => expect(script.calls).toEqual([['kvpRead', 3]]));
    socket.destroy(); // mid-command
    const other = await ControlClient.connect(path);
    expect(await other.execute('list')).toHaveLength(1);
    script.release(); // the reply has nowhere to go: dropped
    expect(await other.execute('kvp-write', { partition: 3, key: 'K', value: 'V' })).toEqual({});
    other.close();
  });

  it(`serves ${MAX_CLIENTS} clients at once and tells one more it is busy`, async () => {
    const clients = await Promise.all(Array.from({ length: MAX_CLIENTS }, () => ControlClient.connect(path)));
    const answers = await Promise.all(clients.map((c, i) => c.execute('kvp-write', { partition: 3, key: `k${i}`, value: 'v' })));
    expect(answers).toEqual(clients.map(() => ({})));
    await expect(ControlClient.connect(path)).rejects.toThrow(/at most 64 clients at once/);
    const gone = clients.map((c) => new Promise<void>((r) => c.onClose(r)));
    clients.forEach((c) => c.close());
    await Promise.all(gone);
    await vi.waitFor(async () => (await ControlClient.connect(path)).close()); // room again, once the server saw them go
  });

  it(`queues at most ${MAX_QUEUED} requests behind a running one on a connection`, async () => {
    const { socket, next } = await raw(path);
    await next();
    socket.write('{"id":0,"execute":"kvp-read","arguments":{"partition":3}}\n' + Array.from({ length: MAX_QUEUED + 2 }, (_, i) => `{"id":${i + 1},"execute":"list"}\n`).join(''));
    // The two past the queue's room are refused at once; the rest wait for the first.
    expect(await next()).toMatchObject({ id: MAX_QUEUED + 1, error: { class: 'Busy' } });
    expect(await next()).toMatchObject({ id: MAX_QUEUED + 2, error: { class: 'Busy' } });
    script.release();
    expect(await next()).toMatchObject({ id: 0, return: { auto: {} } });
    for (let i = 1; i <= MAX_QUEUED; i++) expect(await next()).toMatchObject({ id: i });
    socket.destroy();
  });

  it('drops a client that asks and never reads its replies, and serves the others', async () => {
    const { socket } = await raw(path);
    socket.pause(); // reads nothing more
    socket.on('error', () => {}); // EPIPE on the writes after it was dropped
    const closed = new Promise((r) => socket.once('close', r));
    const line = '{"execute":"list"}\n';
    // Enough replies to pass the cap past what the socket buffers hold.
    const batch = line.repeat(1000);
    for (let sent = 0; sent < (3 * MAX_UNREAD_BYTES) / 100 && !socket.destroyed; sent += 1000) {
      if (!socket.write(batch)) await new Promise((r) => socket.once('drain', r).once('close', r));
    }
    socket.resume();
    await closed;
    const c = await ControlClient.connect(path);
    expect(await c.execute('list')).toHaveLength(1);
    c.close();
  });

  it('tells every client what commands did and how partitions ended, host-shutdown last', async () => {
    const a = await ControlClient.connect(path);
    const b = await ControlClient.connect(path);
    const seen: [string, string, unknown][] = [];
    a.onEvent((e) => seen.push(['a', e.event, e.data]));
    b.onEvent((e) => seen.push(['b', e.event, e.data]));
    await a.execute('guest-shutdown', { partition: 'guest', reboot: true });
    expect(script.calls).toEqual([['guestShutdown', 3, { reboot: true }]]);
    script.finish({ kind: 'exit', code: 0, reason: 'sbi' });
    await vi.waitFor(() => expect(seen.filter((s) => s[1] === 'partition-stopped')).toHaveLength(2));
    const closed = new Promise<void>((r) => b.onClose(r));
    await server!.close();
    await closed;
    for (const who of ['a', 'b']) {
      expect(seen.filter((s) => s[0] === who).map((s) => [s[1], s[2]])).toEqual([
        ['guest-shutdown', { partition: 3, name: 'guest', reboot: true }],
        ['partition-stopped', { partition: 3, name: 'guest', result: { kind: 'exit', code: 0, reason: 'sbi' } }],
        ['host-shutdown', {}],
      ]);
    }
  });

  it('lets a command in flight answer before it closes (a migration answers after its partition ended)', async () => {
    const c = await ControlClient.connect(path);
    const events: string[] = [];
    c.onEvent((e) => events.push(e.event));
    const answer = c.execute('kvp-read', { partition: 3 });
    await vi.waitFor(() => expect(script.calls).toEqual([['kvpRead', 3]]));
    const closed = server!.close();
    script.release();
    expect(await answer).toEqual({ auto: {}, guest: {}, external: {} });
    await closed;
    expect(events).toEqual(['host-shutdown']);
  });

  it('quits after the reply went out', async () => {
    const c = await ControlClient.connect(path);
    const events: string[] = [];
    c.onEvent((e) => events.push(e.event));
    const closed = new Promise<void>((r) => c.onClose(r));
    expect(await c.execute('quit')).toEqual({});
    await closed;
    expect(events).toEqual(['host-shutdown']);
    await vi.waitFor(() => expect(quits).toBe(1)); // once the socket is gone
    expect(() => lstatSync(path)).toThrow(/ENOENT/);
  });

  it('is a socket only its owner can use, removed when the host closes', async () => {
    expect(lstatSync(path).isSocket()).toBe(true);
    expect(lstatSync(path).mode & 0o777).toBe(0o600);
    await server!.close();
    expect(() => lstatSync(path)).toThrow(/ENOENT/);
  });

  it('replaces a stale socket, and refuses a live one, a file that is not a socket or a path too long for a socket', async () => {
    // Live: this test's server.
    await expect(ControlServer.listen({ path, host: script.host, kind: 'run', quit: () => {} })).rejects.toThrow(/another host is listening on it/);
    await server!.close();
    // Stale: the socket file of a host that was killed (nobody listens on it).
    const staleSock = join(dir, 'left.sock');
    spawnSync(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))", staleSock]);
    expect(lstatSync(staleSock).isSocket()).toBe(true);
    server = await ControlServer.listen({ path: staleSock, host: script.host, kind: 'run', quit: () => {} });
    (await ControlClient.connect(staleSock)).close();
    await server.close();
    // Too long for a Unix socket (Node would cut it short and listen elsewhere).
    await expect(ControlServer.listen({ path: join(dir, 'x'.repeat(120)), host: script.host, kind: 'run', quit: () => {} })).rejects.toThrow(/at most 10[37] bytes/);
    // Not a socket: left as it is.
    const file = join(dir, 'notes.txt');
    writeFileSync(file, 'mine');
    await expect(ControlServer.listen({ path: file, host: script.host, kind: 'run', quit: () => {} })).rejects.toThrow(InputError);
    expect(readFileSync(file, 'utf8')).toBe('mine');
    server = undefined;
  });
});

describe('the command table', () => {
  it('names a verb the host has, or calls one itself, for every command', () => {
    for (const [name, c] of Object.entries(COMMANDS)) {
      if (c.verb) expect(typeof Host.prototype[c.verb], name).toBe('function');
      else expect(typeof c.call, name).toBe('function');
    }
  });
});

describe('hv control output', () => {
  it('prints a record as key lines, its nested fields dotted and its lists of records as tables after them', () => {
    const stats = { id: 0, name: 'spin', sched: { weight: 256 }, vcpuStats: [{ index: 0, exits: { mmio: 2 } }, { index: 1, exits: { mmio: 0 } }] };
    expect(formatReply('stats', stats)).toBe(
      'id            0\nname          spin\nsched.weight  256\n\nvcpuStats:\nindex  exits.mmio\n0      2\n1      0\n',
    );
    expect(formatReply('kvp-write', {})).toBe('');
    expect(formatReply('add-disk', 5)).toBe('5\n');
  });
});
