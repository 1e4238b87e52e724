// The migration stream's framing (runtime/migrate/wire.ts): TCP delivers a
// stream of bytes in chunks of any size, so every frame of every phase must
// come out whole and in order whether it is split at any byte, arrives one
// byte at a time, or shares a chunk with the frames around it, and whether
// the reader asks before or after the bytes are there.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameReader, jsonFrame, type OutFrame } from '../../../runtime/migrate/wire.ts';

/** One migration's frames, both directions in one stream: every tag, empty and large payloads. */
function conversation(): OutFrame[] {
  const page = Buffer.alloc(4 + 3 * (4 + 4096));
  page.writeUInt32LE(3, 0);
  for (let i = 0; i < page.length; i++) if (i >= 4) page[i] = (i * 7) & 0xff;
  return [
    jsonFrame('HELO', { version: 2, ramSize: 1 << 20 }),
    jsonFrame('ACPT', {}),
    encodeFrame('PAGE', page),
    encodeFrame('PAGE', page.subarray(0, 4 + 4100)),
    encodeFrame('STOP', Buffer.from('records')),
    jsonFrame('RDY ', { prepareMs: 1.5 }),
    encodeFrame('GO  '),
    jsonFrame('DONE', { id: 3, startMs: 0.5 }),
  ];
}

/** A small fixed-seed generator (LCG): the same chunking in every run. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

/** Feeds the frames' bytes to a reader in chunks of `size()` bytes, letting the reader run between some of them. */
async function deliver(size: () => number, pauseOften: () => boolean): Promise<{ tag: string; payload: Buffer }[]> {
  const frames = conversation();
  const bytes = Buffer.concat(frames.flatMap(([head, payload]) => [head, Buffer.from(payload)]));
  const socket = new EventEmitter();
  const reader = new FrameReader(socket as unknown as Socket);
  const got: { tag: string; payload: Buffer }[] = [];
  const reading = (async () => {
    for (let i = 0; i < frames.length; i++) got.push(await reader.next('confirm'));
  })();
  for (let at = 0; at < bytes.length; ) {
    const n = Math.max(1, Math.min(size(), bytes.length - at));
    socket.emit('data', bytes.subarray(at, at + n));
    at += n;
    if (pauseOften()) await new Promise((r) => setImmediate(r));
  }
  socket.emit('close');
  await reading;
  return got;
}

const expected = conversation().map(([head, payload]) => ({ tag: head.toString('latin1', 0, 4), payload: Buffer.from(payload) }));

describe('the migration stream read from TCP chunks', () => {
  it('gives every frame whole and in order, one byte per chunk', async () => {
    expect(await deliver(() => 1, () => false)).toEqual(expected);
  });

  it('gives every frame whole and in order when all of them come in one chunk', async () => {
    expect(await deliver(() => Infinity, () => false)).toEqual(expected);
  });

  it('gives every frame whole and in order at random chunk boundaries (fixed seeds)', async () => {
    for (let seed = 1; seed <= 16; seed++) {
      const r = lcg(seed);
      // Chunks from 1 byte to a little over a page frame, the reader running between half of them.
      const got = await deliver(() => 1 + Math.floor(r() * (seed % 2 ? 64 : 9000)), () => r() < 0.5);
      expect(got, `seed ${seed}`).toEqual(expected);
    }
  });
});
