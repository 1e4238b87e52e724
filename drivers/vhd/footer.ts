// The 512-byte hard disk footer: at the end of every VHD, and copied at
// offset 0 of dynamic and differencing disks.
import { ascii, checksum, getU64, NO_OFFSET, putAscii, SECTOR, setU64, view, vhdTimestamp, newUniqueId } from './bytes.ts';
import { VhdError } from './errors.ts';
import { chsForSectors, chsSectors, isMaxGeometry, type Chs } from './geometry.ts';

export const FOOTER_SIZE = 512;
export const FOOTER_COOKIE = 'conectix';
const CHECKSUM_AT = 64;

export const DISK_FIXED = 2;
export const DISK_DYNAMIC = 3;
export const DISK_DIFFERENCING = 4;
export type DiskType = 'fixed' | 'dynamic' | 'differencing';

/** Largest disk we open or create: QEMU's limit, 65535 x 255 x 255 sectors (~2040 GiB). */
export const MAX_DISK_SIZE = 65535 * 255 * 255 * SECTOR;

/**
 * The creator we write. "qem2" is the code QEMU itself writes for images whose
 * footer current size is authoritative (force_size=on); QEMU, Hyper-V,
 * VirtualBox and we then all see exactly the size that was asked for, while
 * the CHS fields still carry the spec's geometry for CHS-only readers.
 */
export const CREATOR_APP = 'qem2';
export const CREATOR_VERSION = 0x0005_0003;
export const CREATOR_OS = 'Wi2k';

export interface Footer {
  features: number;
  version: number;
  /** Offset of the dynamic header; NO_OFFSET for fixed disks. */
  dataOffset: number;
  /** Seconds since 2000-01-01 UTC. */
  timestamp: number;
  creatorApp: string;
  creatorVersion: number;
  creatorOs: string;
  originalSize: number;
  currentSize: number;
  geometry: Chs;
  diskType: number;
  checksum: number;
  uniqueId: Uint8Array;
  savedState: number;
}

export function typeName(diskType: number): DiskType {
  if (diskType === DISK_FIXED) return 'fixed';
  if (diskType === DISK_DYNAMIC) return 'dynamic';
  if (diskType === DISK_DIFFERENCING) return 'differencing';
  throw new VhdError('unsupported', `unsupported disk type ${diskType}`);
}

export function hasCookie(buf: Uint8Array): boolean {
  return buf.length >= 8 && ascii(buf, 0, 8) === FOOTER_COOKIE;
}

/** Parses and validates a footer; `where` names it in error messages. */
export function parseFooter(buf: Uint8Array, where: string): Footer {
  if (buf.length < FOOTER_SIZE) throw new VhdError('truncated', `${where}: file too short for a VHD footer`);
  if (!hasCookie(buf)) throw new VhdError('not-vhd', `${where}: no VHD footer ("conectix" cookie missing)`);
  const dv = view(buf);
  const f: Footer = {
    features: dv.getUint32(8),
    version: dv.getUint32(12),
    dataOffset: getU64(dv, 16),
    timestamp: dv.getUint32(24),
    creatorApp: ascii(buf, 28, 4),
    creatorVersion: dv.getUint32(32),
    creatorOs: ascii(buf, 36, 4),
    originalSize: getU64(dv, 40),
    currentSize: getU64(dv, 48),
    geometry: { cylinders: dv.getUint16(56), heads: buf[58]!, sectorsPerTrack: buf[59]! },
    diskType: dv.getUint32(60),
    checksum: dv.getUint32(CHECKSUM_AT),
    uniqueId: buf.slice(68, 84),
    savedState: buf[84]!,
  };
  const want = checksum(buf.subarray(0, FOOTER_SIZE), CHECKSUM_AT);
  if (f.checksum !== want) {
    throw new VhdError(
      'bad-checksum',
      `${where}: footer checksum mismatch (stored 0x${f.checksum.toString(16)}, computed 0x${want.toString(16)})`,
    );
  }
  if (f.version >>> 16 !== 1) {
    throw new VhdError('unsupported', `${where}: unsupported footer version 0x${f.version.toString(16)}`);
  }
  const type = typeName(f.diskType);
  const size = virtualSize(f);
  if (!Number.isFinite(f.currentSize) || size <= 0 || size > MAX_DISK_SIZE) {
    throw new VhdError('bad-footer', `${where}: disk size ${f.currentSize} out of range`);
  }
  if (type === 'fixed' ? f.dataOffset !== NO_OFFSET : f.dataOffset === NO_OFFSET || !Number.isFinite(f.dataOffset)) {
    throw new VhdError('bad-footer', `${where}: data offset ${f.dataOffset} does not fit a ${type} disk`);
  }
  return f;
}

export function encodeFooter(f: Footer): Uint8Array {
  const buf = new Uint8Array(FOOTER_SIZE);
  const dv = view(buf);
  putAscii(buf, 0, FOOTER_COOKIE);
  dv.setUint32(8, f.features);
  dv.setUint32(12, f.version);
  setU64(dv, 16, f.dataOffset);
  dv.setUint32(24, f.timestamp);
  putAscii(buf, 28, f.creatorApp.padEnd(4, '\0').slice(0, 4));
  dv.setUint32(32, f.creatorVersion);
  putAscii(buf, 36, f.creatorOs.padEnd(4, '\0').slice(0, 4));
  setU64(dv, 40, f.originalSize);
  setU64(dv, 48, f.currentSize);
  dv.setUint16(56, f.geometry.cylinders);
  buf[58] = f.geometry.heads;
  buf[59] = f.geometry.sectorsPerTrack;
  dv.setUint32(60, f.diskType);
  buf.set(f.uniqueId.subarray(0, 16), 68);
  buf[84] = f.savedState;
  f.checksum = checksum(buf, CHECKSUM_AT);
  dv.setUint32(CHECKSUM_AT, f.checksum);
  return buf;
}

export function newFooter(opts: {
  size: number;
  diskType: number;
  dataOffset: number;
  uniqueId?: Uint8Array;
  timestamp?: number;
}): Footer {
  return {
    features: 0x2,
    version: 0x0001_0000,
    dataOffset: opts.dataOffset,
    timestamp: opts.timestamp ?? vhdTimestamp(),
    creatorApp: CREATOR_APP,
    creatorVersion: CREATOR_VERSION,
    creatorOs: CREATOR_OS,
    originalSize: opts.size,
    currentSize: opts.size,
    geometry: chsForSectors(opts.size / SECTOR),
    diskType: opts.diskType,
    checksum: 0,
    uniqueId: opts.uniqueId ?? newUniqueId(),
    savedState: 0,
  };
}

/** Creators whose disks are sized by CHS geometry (Virtual PC, and QEMU without force_size). */
const CHS_SIZED_CREATORS = new Set(['vpc ', 'qemu']);

/**
 * The disk size a reader exposes. Virtual PC and QEMU's default images are
 * sized by their CHS geometry (which can be smaller than current size);
 * everyone else (Hyper-V, disk2vhd, XenServer, QEMU's "qem2", us) by current
 * size, which is also used whenever the geometry is the maximum one.
 */
export function virtualSize(f: Footer): number {
  const bySize = Math.floor(f.currentSize / SECTOR) * SECTOR;
  if (!CHS_SIZED_CREATORS.has(f.creatorApp) || isMaxGeometry(f.geometry)) return bySize;
  return chsSectors(f.geometry) * SECTOR;
}
