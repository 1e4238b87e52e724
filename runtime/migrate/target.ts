// The target side of a live migration (docs/migration.md): one incoming
// partition per connection. It is built only from a whole, checked stream:
// the RAM goes into a buffer of its own while pre-copy rounds arrive, and
// the partition is created, loaded and held ready at STOP; it runs only on
// the source's GO. A stream that ends, lies or breaks before that leaves
// nothing behind (the error says in which phase).
import type { Socket } from 'node:net';
import { checkPartition, SpecError, type PartitionSpec } from '../host/spec.ts';
import { PersistError } from '../persist/errors.ts';
import type { SaveMeta } from '../persist/partition.ts';
import type { StateRecord } from '../persist/record.ts';
import { MigrationError, type MigrationPhase } from './errors.ts';
import { applyPages } from './pages.ts';
import { decodeState } from './state.ts';
import { encodeFrame, FrameReader, jsonFrame, parseJson, send, WIRE_VERSION } from './wire.ts';

/** The largest RAM an incoming partition may ask for (the spec rules cap it further). */
const MAX_RAM = 2 ** 32;

/** Where the incoming partition goes: the deterministic host or a threaded one. */
export interface TargetHost {
  /**
   * Creates the partition from the stream's state and RAM (`received`: 1
   * for each page the stream wrote), loaded and ready; returns its id.
   * Throws to refuse.
   */
  prepare(state: { meta: SaveMeta; records: StateRecord[] }, ram: Uint8Array, received: Uint8Array): Promise<number>;
  /** Runs it (the source has let go). */
  start(id: number): Promise<void>;
  /** Takes it down, never run (the source did not let go). */
  discard(id: number): Promise<void>;
}

/** For tests of the source's failure handling: the target drops the connection at this point. */
export type FailAt = 'handshake' | 'pre-copy' | 'stop-and-copy' | 'confirm';

/** Receives one partition on `socket`; resolves with its id once it runs. */
export async function migrateIn(socket: Socket, host: TargetHost, failAt?: FailAt): Promise<number> {
  const reader = new FrameReader(socket);
  let phase: MigrationPhase = 'handshake';
  const cut = (at: FailAt) => {
    if (failAt !== at) return;
    socket.destroy();
    throw new MigrationError(phase, `connection cut at ${at} (--fail-at)`);
  };
  try {
    const hello = await reader.next(phase);
    if (hello.tag !== 'HELO') throw new MigrationError(phase, `not a migration stream (first frame ${hello.tag.trim()})`);
    const h = parseJson(hello, phase);
    cut('handshake');
    const refuse = async (reason: string) => {
      await send(socket, jsonFrame('RFSE', { reason }), phase).catch(() => {});
      socket.end();
      throw new MigrationError(phase, `refused: ${reason}`);
    };
    if (h.version !== WIRE_VERSION) return await refuse(`stream version ${String(h.version)}, this host speaks ${WIRE_VERSION}`);
    const ramSize = h.ramSize;
    if (typeof ramSize !== 'number' || !Number.isInteger(ramSize) || ramSize <= 0 || ramSize % 4096 || ramSize > MAX_RAM) {
      return await refuse(`RAM size ${String(ramSize)} is not a whole number of pages up to 4 GiB`);
    }
    try {
      const spec = checkPartition({ ...(h.spec as PartitionSpec), disks: [] });
      if (spec.memory !== ramSize) return await refuse(`the spec has ${spec.memory} bytes of RAM, the stream ${ramSize}`);
    } catch (e) {
      if (e instanceof SpecError) return await refuse(`spec: ${e.message}`);
      throw e;
    }
    await send(socket, jsonFrame('ACPT', {}), phase);

    phase = 'pre-copy';
    const ram = new Uint8Array(ramSize);
    const received = new Uint8Array(ramSize / 4096);
    let frames = 0;
    let f = await reader.next(phase);
    while (f.tag === 'PAGE') {
      applyPages(f.payload, ram, received);
      if (++frames === 1) cut('pre-copy');
      f = await reader.next(phase);
    }
    phase = 'stop-and-copy';
    if (f.tag !== 'STOP') throw new MigrationError(phase, `expected frame STOP, got ${f.tag.trim()}`);
    cut('stop-and-copy');
    let id: number;
    try {
      id = await host.prepare(decodeState(f.payload), ram, received);
    } catch (e) {
      const reason = e instanceof PersistError || e instanceof MigrationError ? e.message : `cannot create the partition: ${(e as Error).message}`;
      return await refuse(reason);
    }

    phase = 'confirm';
    try {
      cut('confirm');
      await send(socket, encodeFrame('RDY '), phase);
      const go = await reader.next(phase);
      if (go.tag !== 'GO  ') throw new MigrationError(phase, `expected frame GO, got ${go.tag.trim()}`);
    } catch (e) {
      await host.discard(id);
      throw e;
    }
    await host.start(id);
    await send(socket, jsonFrame('DONE', { id }), phase).catch(() => {});
    socket.end();
    return id;
  } catch (e) {
    socket.destroy();
    if (e instanceof MigrationError) throw e;
    throw new MigrationError(phase, (e as Error).message, { cause: e });
  }
}
