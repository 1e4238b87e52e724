// The migration stream (docs/migration.md, "Live migration"): frames over
// one TCP connection, each checksummed, the first carrying the version.
//
//   frame   +0 tag (4 ASCII)  +4 u32 payload length  +8 u32 CRC-32 of the payload  +12 payload
//
//   source -> target                          target -> source
//   HELO  JSON handshake (version, spec ...)   ACPT  JSON {} (or RFSE JSON {reason}: refused)
//   PAGE  u32 n, n x (u32 page, 4096 bytes)
//   STOP  deflated records (runtime/persist)   RDY   JSON {} (checked, applied: ready to run)
//   GO    empty: the source has let go         DONE  JSON {id} (running)
//
// Little-endian throughout. A frame over MAX_FRAME bytes, an unknown tag or
// a bad CRC ends the stream with a MigrationError naming it.
import type { Socket } from 'node:net';
import { crc32 } from 'node:zlib';
import { MigrationError, type MigrationPhase } from './errors.ts';

export const WIRE_VERSION = 2;
export const PAGE_SIZE = 4096;
/** Pages per PAGE frame. */
export const PAGES_PER_FRAME = 256;
const HEADER = 12;
const MAX_FRAME = 64 << 20;
const TAGS = new Set(['HELO', 'ACPT', 'RFSE', 'PAGE', 'STOP', 'RDY ', 'GO  ', 'DONE']);

export type Tag = 'HELO' | 'ACPT' | 'RFSE' | 'PAGE' | 'STOP' | 'RDY ' | 'GO  ' | 'DONE';

export interface Frame {
  tag: Tag;
  payload: Buffer;
}

/** A frame: its header and its payload, written one after the other (the payload is not copied). */
export type OutFrame = readonly [head: Buffer, payload: Uint8Array];

export function encodeFrame(tag: Tag, payload: Uint8Array = new Uint8Array(0)): OutFrame {
  const head = Buffer.alloc(HEADER);
  head.write(tag, 0, 'latin1');
  head.writeUInt32LE(payload.length, 4);
  head.writeUInt32LE(crc32(payload), 8);
  return [head, payload];
}

export function jsonFrame(tag: Tag, value: unknown): OutFrame {
  return encodeFrame(tag, Buffer.from(JSON.stringify(value)));
}

export function parseJson(f: Frame, phase: MigrationPhase): Record<string, unknown> {
  try {
    const v = JSON.parse(f.payload.toString('utf8')) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new MigrationError(phase, `frame ${f.tag.trim()} is not a JSON object`);
}

/**
 * Frames from a socket, in order: next() resolves with the next whole frame
 * and rejects (MigrationError) when the stream is corrupt or ends first.
 */
export class FrameReader {
  /** What arrived and is not taken yet, as it arrived: a frame is joined once, when it is whole (not once per chunk). */
  private chunks: Buffer[] = [];
  private size = 0;
  private waiting: { resolve: (f: Frame) => void; reject: (e: Error) => void; phase: MigrationPhase } | undefined;
  private endedWhy: string | undefined;

  constructor(socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.size += d.length;
      this.pump();
    });
    socket.on('close', () => this.end('the connection closed'));
    socket.on('error', (e) => this.end(`the connection failed (${(e as NodeJS.ErrnoException).code ?? e.message})`));
  }

  /** Why the stream ended (closed, failed), or undefined while it is open. */
  get ended(): string | undefined {
    return this.endedWhy;
  }

  private end(why: string): void {
    this.endedWhy ??= why;
    this.pump();
  }

  /** The next frame; with `timeoutMs`, a MigrationError if it has not come by then. */
  next(phase: MigrationPhase, timeoutMs?: number): Promise<Frame> {
    const frame = new Promise<Frame>((resolve, reject) => {
      this.waiting = { resolve, reject, phase };
      this.pump();
    });
    if (timeoutMs === undefined) return frame;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new MigrationError(phase, `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    return Promise.race([frame, late]).finally(() => clearTimeout(timer));
  }

  private pump(): void {
    const w = this.waiting;
    if (!w) return;
    let frame: Frame | undefined;
    try {
      frame = this.take(w.phase);
    } catch (e) {
      this.waiting = undefined;
      w.reject(e as Error);
      return;
    }
    if (frame) {
      this.waiting = undefined;
      w.resolve(frame);
    } else if (this.endedWhy !== undefined) {
      this.waiting = undefined;
      w.reject(new MigrationError(w.phase, this.endedWhy));
    }
  }

  /** The first `n` buffered bytes (there are that many) in one Buffer. */
  private head(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0]!;
  }

  private take(phase: MigrationPhase): Frame | undefined {
    if (this.size < HEADER) return undefined;
    let buf = this.head(HEADER);
    const tag = buf.toString('latin1', 0, 4);
    if (!TAGS.has(tag)) throw new MigrationError(phase, `not a migration stream (frame tag ${JSON.stringify(tag)})`);
    const len = buf.readUInt32LE(4);
    if (len > MAX_FRAME) throw new MigrationError(phase, `frame ${tag.trim()} of ${len} bytes is over the ${MAX_FRAME} limit`);
    if (this.size < HEADER + len) return undefined;
    buf = this.head(HEADER + len);
    const payload = buf.subarray(HEADER, HEADER + len);
    if (crc32(payload) !== buf.readUInt32LE(8)) throw new MigrationError(phase, `frame ${tag.trim()} fails its CRC`);
    const rest = buf.subarray(HEADER + len);
    if (rest.length) this.chunks[0] = rest;
    else this.chunks.shift();
    this.size -= HEADER + len;
    return { tag: tag as Tag, payload };
  }
}

/** Writes `frame`, resolving once the socket took it (MigrationError if it is gone). */
export function send(socket: Socket, frame: OutFrame, phase: MigrationPhase): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) {
      reject(new MigrationError(phase, 'the connection closed'));
      return;
    }
    socket.cork(); // header and payload in one writev
    socket.write(frame[0]);
    socket.write(frame[1], (e) => (e ? reject(new MigrationError(phase, `the connection failed (${e.message})`, { cause: e })) : resolve()));
    socket.uncork();
  });
}

/** Expects a frame with `tag`; an RFSE is the target's refusal, anything else a protocol error. */
export async function expect(reader: FrameReader, tag: Tag, phase: MigrationPhase, timeoutMs?: number): Promise<Frame> {
  const f = await reader.next(phase, timeoutMs);
  if (f.tag === 'RFSE') throw new MigrationError(phase, `the target refused: ${String(parseJson(f, phase).reason)}`);
  if (f.tag !== tag) throw new MigrationError(phase, `expected frame ${tag.trim()}, got ${f.tag.trim()}`);
  return f;
}
