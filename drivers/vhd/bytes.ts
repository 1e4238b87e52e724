// Big-endian field access, the VHD checksum, UTF-16 strings, unique ids and
// VHD timestamps: the small encodings every structure in the format uses.
import { randomBytes } from 'node:crypto';

export const SECTOR = 512;
/** Seconds between the Unix epoch and the VHD epoch (2000-01-01 00:00:00 UTC). */
export const VHD_EPOCH = 946_684_800;
/** u64 all-ones: "no next structure" in footer and header data-offset fields. */
export const NO_OFFSET = -1;

export function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Reads a u64; all-ones becomes NO_OFFSET; values past 2^53 become Infinity (callers range-check). */
export function getU64(dv: DataView, off: number): number {
  const v = dv.getBigUint64(off);
  if (v === 0xffff_ffff_ffff_ffffn) return NO_OFFSET;
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v);
}

export function setU64(dv: DataView, off: number, v: number): void {
  dv.setBigUint64(off, v === NO_OFFSET ? 0xffff_ffff_ffff_ffffn : BigInt(v));
}

/** Ones' complement of the byte sum, with the 4-byte checksum field at `at` counted as zero. */
export function checksum(buf: Uint8Array, at: number): number {
  let sum = 0;
  for (let i = 0; i < buf.length; i++) if (i < at || i >= at + 4) sum += buf[i]!;
  return ~sum >>> 0;
}

export function ascii(buf: Uint8Array, off: number, len: number): string {
  return String.fromCharCode(...buf.subarray(off, off + len));
}

export function putAscii(buf: Uint8Array, off: number, s: string): void {
  for (let i = 0; i < s.length; i++) buf[off + i] = s.charCodeAt(i) & 0xff;
}

/** Decodes UTF-16 (BE or LE) up to the first NUL or the end. */
export function decodeUtf16(bytes: Uint8Array, bigEndian: boolean): string {
  const units: number[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    const u = bigEndian ? (bytes[i]! << 8) | bytes[i + 1]! : bytes[i]! | (bytes[i + 1]! << 8);
    if (u === 0) break;
    units.push(u);
  }
  let s = '';
  for (let i = 0; i < units.length; i += 4096) s += String.fromCharCode(...units.slice(i, i + 4096));
  return s;
}

export function encodeUtf16(s: string, bigEndian: boolean): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    out[2 * i + (bigEndian ? 0 : 1)] = u >> 8;
    out[2 * i + (bigEndian ? 1 : 0)] = u & 0xff;
  }
  return out;
}

/** A random (version 4) UUID as the 16 raw bytes VHD stores. */
export function newUniqueId(): Uint8Array {
  const id = new Uint8Array(randomBytes(16));
  id[6] = (id[6]! & 0x0f) | 0x40;
  id[8] = (id[8]! & 0x3f) | 0x80;
  return id;
}

export function formatUuid(id: Uint8Array): string {
  const h = Array.from(id, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Seconds since the VHD epoch, as stored in footer and header timestamps. */
export function vhdTimestamp(date: Date = new Date()): number {
  return Math.max(0, Math.floor(date.getTime() / 1000) - VHD_EPOCH) >>> 0;
}

export function timestampToDate(ts: number): Date {
  return new Date((ts + VHD_EPOCH) * 1000);
}

export function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

const ZERO = new Uint8Array(1 << 16);
/** True when every byte is zero (native compare, 64 KiB at a time). */
export function isZero(buf: Uint8Array): boolean {
  for (let off = 0; off < buf.length; off += ZERO.length) {
    const part = buf.subarray(off, Math.min(buf.length, off + ZERO.length));
    if (Buffer.compare(part, ZERO.subarray(0, part.length)) !== 0) return false;
  }
  return true;
}
