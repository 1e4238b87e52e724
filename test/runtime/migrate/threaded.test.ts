// Live migration between two threaded hosts in one process (HostController
// .migrate to a migrateIn target): the source's partition ends at the
// target's RDY, but the migration ends at its DONE. A caller that closes the
// source host as soon as the guest left it (hv run --migrate-to does) must
// still get migrate()'s answer, and the target must run the guest. What is
// typed at the target's console (hv serve's) before and right after the
// guest starts there reaches the guest's UART.
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IncomingConsole } from '../../../runtime/cli/serve-console.ts';
import { Host } from '../../../runtime/host/host.ts';
import { readSave } from '../../../runtime/persist/partition.ts';
import { partitionSpec } from '../../../runtime/host/spec.ts';
import { migrateIn, threadedTarget } from '../../../runtime/migrate/target.ts';

describe('a threaded source closed right after its guest moved', () => {
  let source: Host;
  let target: Host;
  let server: Server;
  let received: Promise<number> | undefined;
  /** The target holds its start (and so its DONE) until this opens. */
  let openStart!: () => void;
  const startHeld = new Promise<void>((r) => (openStart = r));

  beforeAll(async () => {
    [source, target] = await Promise.all([Host.start({ pcpus: 1, memoryBytes: 64 << 20 }), Host.start({ pcpus: 1, memoryBytes: 64 << 20 })]);
    const host = threadedTarget(target);
    server = createServer((s) => {
      received = migrateIn(s, { ...host, start: (id) => startHeld.then(() => host.start(id)) });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    server?.close();
    await target?.close();
  });

  it('still answers migrate() with the figures, and the target runs the guest', async () => {
    const id = await source.create(partitionSpec('spin', 'guests/bin/sched/spin.elf', { memory: 16 << 20 }));
    await source.start(id);
    const port = (server.address() as { port: number }).port;
    const moved = source.migrate(id, { host: '127.0.0.1', port });
    expect(await source.wait(id)).toEqual({ kind: 'migrated', to: `127.0.0.1:${port}` });
    const closed = source.close();
    // Whichever settles first: the close must wait for the migration, which
    // waits for the target's DONE. (Before, the close cut the migration off
    // and migrate() never answered.) The wait only lets a wrong order show.
    const first = Promise.race([closed.then(() => 'closed'), moved.then(() => 'moved')]);
    setTimeout(openStart, 200);
    expect(await first).toBe('moved');
    expect(await moved).toMatchObject({ rounds: expect.any(Number) as number, downtimePhases: expect.arrayContaining([['release', expect.any(Number)]]) as unknown });
    await closed;
    const there = await received!;
    expect((await target.list()).find((p) => p.id === there)).toMatchObject({ name: 'spin', state: 'running' });
  });
});

describe("hv serve's console", () => {
  let source: Host;
  let target: Host;
  afterAll(async () => {
    await Promise.all([source?.close(), target?.close()]);
  });

  it('hands the guest what is typed before it arrives and right after it starts, in order', async () => {
    [source, target] = await Promise.all([Host.start({ pcpus: 1, memoryBytes: 64 << 20 }), Host.start({ pcpus: 1, memoryBytes: 64 << 20 })]);
    const input = new IncomingConsole((id, b) => void target.input(id, b));
    const host = threadedTarget(target, undefined, { starting: (id) => input.starting(id) });
    let received!: Promise<number>;
    const server = createServer((s) => {
      received = migrateIn(s, {
        ...host,
        // Typed the moment it runs: before the fix, hv serve dropped this
        // (its console went to the guest only once DONE was out).
        start: (id) => host.start(id).then(() => input.type(Buffer.from('b'))),
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      input.type(Buffer.from('a')); // nothing here yet
      const id = await source.create(partitionSpec('spin', 'guests/bin/sched/spin.elf', { memory: 16 << 20 }));
      await source.start(id);
      await source.migrate(id, { host: '127.0.0.1', port: (server.address() as { port: number }).port });
      const there = await received;
      input.type(Buffer.from('c'));
      // The guest (it never reads its UART) holds every byte: its save file shows them.
      await target.pause(there);
      const file = join(mkdtempSync(join(tmpdir(), 'hv-serve-console-')), 'moved.hvs');
      await target.save(there, file);
      const uart = readSave(file).records.json('dev.uart0', 1) as { rx: number[]; queue: number[] };
      expect(Buffer.from([...uart.rx, ...uart.queue]).toString('latin1')).toBe('abc');
    } finally {
      server.close();
    }
  });
});
