// The target of a live migration on the threaded host (runtime/migrate/
// target.ts, threadedTarget): it reserves the incoming partition's RAM when
// the stream starts and gives it back when the stream breaks or lies before
// the partition exists, so a failed migration leaves the host as it was.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Host } from '../../../runtime/host/host.ts';
import { partitionSpec } from '../../../runtime/host/spec.ts';
import { MigrationError } from '../../../runtime/migrate/errors.ts';
import { migrateIn, threadedTarget } from '../../../runtime/migrate/target.ts';
import { encodeFrame, expect as expectFrame, FrameReader, jsonFrame, send, WIRE_VERSION } from '../../../runtime/migrate/wire.ts';

const RAM = 64 << 20;

describe('a threaded target whose stream fails before the stop', () => {
  let host: Host;
  let server: Server;
  let incoming: Promise<number>[] = [];
  beforeAll(async () => {
    // Room for one 64 MiB partition, not two.
    host = await Host.start({ pcpus: 1, memoryBytes: 100 << 20 });
    server = createServer((s) => incoming.push(migrateIn(s, threadedTarget(host))));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    server?.close();
    await host?.close();
  });

  /** A source that says HELO for a 64 MiB partition and has ACPT back. */
  async function accepted(): Promise<Socket> {
    incoming = [];
    const s = connect((server.address() as { port: number }).port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    const reader = new FrameReader(s);
    await send(s, jsonFrame('HELO', { version: WIRE_VERSION, spec: partitionSpec('moved', 'guests/bin/hello.elf', { memory: RAM }), ramSize: RAM }), 'handshake');
    await expectFrame(reader, 'ACPT', 'handshake');
    return s;
  }

  it.each([
    ['the connection closes in pre-copy', (s: Socket) => s.destroy(), /pre-copy: the connection closed/],
    [
      'a page lies outside its RAM',
      (s: Socket) => {
        const page = Buffer.alloc(4 + 4 + 4096);
        page.writeUInt32LE(1, 0);
        page.writeUInt32LE(RAM / 4096, 4); // one past the last page
        void send(s, encodeFrame('PAGE', page), 'pre-copy');
      },
      /page 16384 is outside the partition's 16384 pages/,
    ],
  ])('gives back the RAM it reserved when %s', async (_, fail, why) => {
    const s = await accepted();
    // Held from the handshake on: a second partition of that size does not fit.
    await expect(host.reserveRam(RAM)).rejects.toThrow(/host memory exhausted/);
    fail(s);
    const error = await incoming[0]!.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(why);
    s.destroy();
    // Back in the pool, nothing was created.
    const again = await host.reserveRam(RAM);
    await host.releaseRam(again);
    expect(await host.list()).toEqual([]);
  });
});
