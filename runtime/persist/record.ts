// A versioned, checksummed record: the unit every piece of partition state
// saves to (a vCPU, the partition's kernel state, each device, the disks),
// as Firecracker's per-device `persist`. Records are independent of where
// they are stored (a save file's section today, a migration stream later).
//
//   +0  u16  kind length K          +2   K bytes kind (ASCII: "vcpu0", "uart0")
//   +2+K u16 version                +4+K u32 body length N
//   +8+K u32 CRC-32 of the body     +12+K N bytes body (JSON or raw bytes)
//
// A reader checks every record before anything is applied: the CRC, then
// the kind and version it expects (a record of another version is an error
// naming it, never a guess), then its fields.
import { crc32 } from 'node:zlib';
import { PersistError } from './errors.ts';

export interface StateRecord {
  kind: string;
  version: number;
  body: Uint8Array;
}

const ASCII = /^[\x21-\x7e]{1,64}$/;

export function encodeRecords(records: readonly StateRecord[]): Uint8Array {
  const parts: Buffer[] = [];
  for (const r of records) {
    if (!ASCII.test(r.kind)) throw new RangeError(`record kind '${r.kind}' is not short printable ASCII`);
    const head = Buffer.alloc(12 + r.kind.length);
    head.writeUInt16LE(r.kind.length, 0);
    head.write(r.kind, 2, 'latin1');
    head.writeUInt16LE(r.version, 2 + r.kind.length);
    head.writeUInt32LE(r.body.length, 4 + r.kind.length);
    head.writeUInt32LE(crc32(r.body), 8 + r.kind.length);
    parts.push(head, Buffer.from(r.body.buffer, r.body.byteOffset, r.body.length));
  }
  return Buffer.concat(parts);
}

/** Splits `bytes` into records, checking each one's framing and CRC. `where` names the container. */
export function decodeRecords(bytes: Uint8Array, where: string): StateRecord[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const out: StateRecord[] = [];
  let at = 0;
  while (at < b.length) {
    const fail = (problem: string) => new PersistError(`${where}, record ${out.length}`, problem);
    if (b.length - at < 2) throw fail('truncated');
    const k = b.readUInt16LE(at);
    if (k === 0 || k > 64 || b.length - at < 12 + k) throw fail('truncated or corrupt header');
    const kind = b.toString('latin1', at + 2, at + 2 + k);
    if (!ASCII.test(kind)) throw fail('corrupt kind');
    const version = b.readUInt16LE(at + 2 + k);
    const n = b.readUInt32LE(at + 4 + k);
    const crc = b.readUInt32LE(at + 8 + k);
    const start = at + 12 + k;
    if (b.length - start < n) throw new PersistError(kind, `record truncated: ${n} bytes announced, ${b.length - start} left`);
    const body = b.subarray(start, start + n);
    if (crc32(body) !== crc) throw new PersistError(kind, 'record checksum mismatch (corrupt)');
    out.push({ kind, version, body });
    at = start + n;
  }
  return out;
}

/** A record of JSON-able state (bigints as decimal strings). */
export function jsonRecord(kind: string, version: number, state: unknown): StateRecord {
  const text = JSON.stringify(state, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  return { kind, version, body: Buffer.from(text, 'utf8') };
}

/** The records by kind; a missing or repeated one, or one of another version, is a PersistError naming it. */
export class RecordSet {
  private readonly byKind = new Map<string, StateRecord>();
  constructor(records: readonly StateRecord[]) {
    for (const r of records) {
      if (this.byKind.has(r.kind)) throw new PersistError(r.kind, 'record appears twice');
      this.byKind.set(r.kind, r);
    }
  }
  has(kind: string): boolean {
    return this.byKind.has(kind);
  }
  kinds(): string[] {
    return [...this.byKind.keys()];
  }
  /** The body of record `kind`, which must be of `version`. */
  bytes(kind: string, version: number): Uint8Array {
    const r = this.byKind.get(kind);
    if (!r) throw new PersistError(kind, 'record missing');
    if (r.version !== version) throw new PersistError(kind, `record version ${r.version}, this hv reads version ${version}`);
    return r.body;
  }
  /** The JSON object in record `kind`. */
  json(kind: string, version: number): Record<string, unknown> {
    const body = this.bytes(kind, version);
    let v: unknown;
    try {
      v = JSON.parse(Buffer.from(body).toString('utf8'));
    } catch (e) {
      throw new PersistError(kind, 'record is not valid JSON', { cause: e });
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PersistError(kind, 'record is not a JSON object');
    return v as Record<string, unknown>;
  }
}
