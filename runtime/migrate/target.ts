// The target side of a live migration (docs/migration.md): one incoming
// partition per connection. It is built only from a whole, checked stream:
// the RAM is reserved at the handshake and the pages are written into it as
// pre-copy rounds arrive (nothing runs there, nothing is copied at the
// stop); the partition is created around it, loaded and held ready at
// STOP; it runs only on the source's GO. A stream that ends, lies or breaks
// before that leaves nothing behind (the error says in which phase).
import type { Socket } from 'node:net';
import type { ConsoleSink, HostController } from '../host/controller.ts';
import type { PagingMode } from '../machine/machine.ts';
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
  /** Zeroed RAM of `ramSize` bytes for the incoming partition, reserved at the handshake; the stream writes its pages there. Throws to refuse. */
  reserve(ramSize: number): Promise<Uint8Array>;
  /** Creates the partition around that RAM from the stream's state, loaded and ready; returns its id. Throws to refuse. */
  prepare(state: { meta: SaveMeta; records: StateRecord[] }): Promise<number>;
  /** Runs it (the source has let go). */
  start(id: number): Promise<void>;
  /** Takes down what the stream built, never run: partition `id`, or (undefined) the reserved RAM. */
  discard(id: number | undefined): Promise<void>;
}

/**
 * A threaded host as the target: the RAM reserved in its shared memory (this
 * thread writes the pages there), the partition built and run by its root.
 * `options.starting`: called with the partition's id just before its start
 * is asked for (hv serve routes its console input to it from there on).
 */
export function threadedTarget(
  h: Pick<HostController, 'reserveRam' | 'releaseRam' | 'receive' | 'start' | 'destroy'> & { memory: WebAssembly.Memory },
  console?: ConsoleSink,
  options: { paging?: PagingMode; starting?: (id: number) => void } = {},
): TargetHost {
  let ramHost = 0;
  return {
    reserve: async (bytes) => {
      ramHost = await h.reserveRam(bytes);
      return new Uint8Array(h.memory.buffer, ramHost, bytes);
    },
    prepare: (state) => h.receive({ ...state, ramHost }, console, { paging: options.paging }),
    start: (id) => {
      options.starting?.(id);
      return h.start(id);
    },
    discard: (id) => (id === undefined ? h.releaseRam(ramHost) : h.destroy(id)),
  };
}

/** For tests of the source's failure handling: the target drops the connection at this point. */
export type FailAt = 'handshake' | 'pre-copy' | 'stop-and-copy' | 'confirm';

/** Receives one partition on `socket`; resolves with its id once it runs. */
export async function migrateIn(socket: Socket, host: TargetHost, failAt?: FailAt): Promise<number> {
  const reader = new FrameReader(socket);
  let phase: MigrationPhase = 'handshake';
  let reserved = false;
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
    let ram: Uint8Array;
    try {
      ram = await host.reserve(ramSize);
    } catch (e) {
      return await refuse(`cannot reserve ${ramSize} bytes of RAM: ${(e as Error).message}`);
    }
    reserved = true;
    await send(socket, jsonFrame('ACPT', {}), phase);

    phase = 'pre-copy';
    let frames = 0;
    let f = await reader.next(phase);
    while (f.tag === 'PAGE') {
      applyPages(f.payload, ram);
      if (++frames === 1) cut('pre-copy');
      f = await reader.next(phase);
    }
    phase = 'stop-and-copy';
    if (f.tag !== 'STOP') throw new MigrationError(phase, `expected frame STOP, got ${f.tag.trim()}`);
    cut('stop-and-copy');
    let id: number;
    const stopAt = performance.now();
    try {
      id = await host.prepare(decodeState(f.payload));
      reserved = false; // the partition's now
    } catch (e) {
      const reason = e instanceof PersistError || e instanceof MigrationError ? e.message : `cannot create the partition: ${(e as Error).message}`;
      return await refuse(reason);
    }

    phase = 'confirm';
    try {
      cut('confirm');
      // How long the checks and the build took: the source's downtime breakdown shows it.
      await send(socket, jsonFrame('RDY ', { prepareMs: performance.now() - stopAt }), phase);
      const go = await reader.next(phase);
      if (go.tag !== 'GO  ') throw new MigrationError(phase, `expected frame GO, got ${go.tag.trim()}`);
    } catch (e) {
      await host.discard(id);
      throw e;
    }
    const goAt = performance.now();
    await host.start(id);
    await send(socket, jsonFrame('DONE', { id, startMs: performance.now() - goAt }), phase).catch(() => {});
    socket.end();
    return id;
  } catch (e) {
    socket.destroy();
    if (reserved) await host.discard(undefined);
    if (e instanceof MigrationError) throw e;
    throw new MigrationError(phase, (e as Error).message, { cause: e });
  }
}
