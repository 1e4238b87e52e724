// The save file: one file holding a paused partition (docs/migration.md).
//
//   +0   8 bytes magic  89 'H' 'V' 'S' 0D 0A 1A 0A   (PNG-style: catches
//                       text-mode transfers and truncation at the first line)
//   +8   u32 format version (FORMAT_VERSION)
//   +12  u32 number of sections
//   +16  sections, each:
//          +0  4 bytes tag (ASCII, "META", "STAT", "MEM ", "END ")
//          +4  u32 flags (bit 0: the payload is deflated)
//          +8  u64 payload length as stored
//          +16 u32 CRC-32 of the stored payload
//          +20 u32 reserved (0)
//          +24 payload
//   The last section is "END " (empty): a file cut at a section boundary is
//   still found truncated. All integers little-endian.
//
// Reading checks the magic, the version, every section's length and CRC and
// the END marker before any byte is interpreted.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { PersistError } from './errors.ts';

export const MAGIC = Buffer.from([0x89, 0x48, 0x56, 0x53, 0x0d, 0x0a, 0x1a, 0x0a]);
export const FORMAT_VERSION = 1;
const SECTION_HEAD = 24;
export const FLAG_DEFLATED = 1;

export interface Section {
  tag: string;
  flags: number;
  payload: Uint8Array;
}

/** Writes `sections` (and the END marker) to `path` through a temporary file, so `path` is never half-written. */
export function writeContainer(path: string, sections: readonly Section[]): number {
  const all = [...sections, { tag: 'END ', flags: 0, payload: new Uint8Array(0) }];
  const head = Buffer.alloc(16);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(FORMAT_VERSION, 8);
  head.writeUInt32LE(all.length, 12);
  const tmp = `${path}.tmp-${process.pid}`;
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (e) {
    throw new PersistError(`save file '${path}'`, `cannot be written: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  let total = 0;
  try {
    const put = (b: Uint8Array) => {
      for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
      total += b.length;
    };
    put(head);
    for (const s of all) {
      if (!/^[\x20-\x7e]{4}$/.test(s.tag)) throw new RangeError(`section tag '${s.tag}' is not 4 ASCII characters`);
      const h = Buffer.alloc(SECTION_HEAD);
      h.write(s.tag, 0, 'latin1');
      h.writeUInt32LE(s.flags, 4);
      h.writeBigUInt64LE(BigInt(s.payload.length), 8);
      h.writeUInt32LE(crc32(s.payload), 16);
      put(h);
      put(s.payload);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return total;
}

/** Reads and checks a save file; returns its sections by tag (END excluded). */
export function readContainer(path: string): Map<string, Section> {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch (e) {
    throw new PersistError(`save file '${path}'`, `cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  return parseContainer(b);
}

export function parseContainer(b: Buffer): Map<string, Section> {
  if (b.length < 16 || !b.subarray(0, 8).equals(MAGIC)) throw new PersistError('save file', 'not an hv save file (bad magic)');
  const version = b.readUInt32LE(8);
  if (version !== FORMAT_VERSION) throw new PersistError('save file', `format version ${version}, this hv reads version ${FORMAT_VERSION}`);
  const count = b.readUInt32LE(12);
  const out = new Map<string, Section>();
  let at = 16;
  let ended = false;
  for (let i = 0; i < count && !ended; i++) {
    if (b.length - at < SECTION_HEAD) throw new PersistError(`save file, section ${i}`, 'truncated (header missing)');
    const tag = b.toString('latin1', at, at + 4);
    const flags = b.readUInt32LE(at + 4);
    const len = b.readBigUInt64LE(at + 8);
    const crc = b.readUInt32LE(at + 16);
    const where = `section ${JSON.stringify(tag)}`;
    if (!/^[\x20-\x7e]{4}$/.test(tag)) throw new PersistError(`save file, section ${i}`, 'corrupt header (tag)');
    if (len > BigInt(b.length - at - SECTION_HEAD)) {
      throw new PersistError(where, `truncated: ${len} bytes announced, ${b.length - at - SECTION_HEAD} left in the file`);
    }
    const payload = b.subarray(at + SECTION_HEAD, at + SECTION_HEAD + Number(len));
    if (crc32(payload) !== crc) throw new PersistError(where, 'checksum mismatch (the file is corrupt)');
    if (out.has(tag)) throw new PersistError(where, 'appears twice');
    at += SECTION_HEAD + Number(len);
    if (tag === 'END ') ended = true;
    else out.set(tag, { tag, flags, payload });
  }
  if (!ended) throw new PersistError('save file', 'truncated (no END section)');
  if (at !== b.length) throw new PersistError('save file', `${b.length - at} bytes after the END section`);
  return out;
}

/** Section `tag`, which must be present. */
export function section(sections: Map<string, Section>, tag: string): Section {
  const s = sections.get(tag);
  if (!s) throw new PersistError(`section ${JSON.stringify(tag)}`, 'missing');
  return s;
}
