// The 1024-byte dynamic disk header ("cxsparse") of dynamic and
// differencing disks, with the parent fields and the eight parent locators.
import { ascii, checksum, decodeUtf16, encodeUtf16, getU64, NO_OFFSET, putAscii, setU64, view } from './bytes.ts';
import { VhdError } from './errors.ts';

export const HEADER_SIZE = 1024;
export const HEADER_COOKIE = 'cxsparse';
const CHECKSUM_AT = 36;
export const LOCATOR_COUNT = 8;
const LOCATORS_AT = 576;
const PARENT_NAME_AT = 64;
export const PARENT_NAME_BYTES = 512;

export const DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024;
export const MIN_BLOCK_SIZE = 512;
export const MAX_BLOCK_SIZE = 256 * 1024 * 1024;

/** Platform codes of parent locators. */
export const PLATFORM = {
  none: 0,
  W2ru: 0x5732_7275, // Windows relative path, UTF-16LE
  W2ku: 0x5732_6b75, // Windows absolute path, UTF-16LE
  MacX: 0x4d61_6358, // Mac OS X file URL, UTF-8
  Wi2r: 0x5769_3272, // deprecated
  Wi2k: 0x5769_326b, // deprecated
  Mac: 0x4d61_6320, // Mac OS alias blob
} as const;

export interface ParentLocator {
  platformCode: number;
  /** Space reserved for the locator data, in sectors per the spec (some writers store bytes). */
  dataSpace: number;
  /** Length of the locator data in bytes. */
  dataLength: number;
  dataOffset: number;
}

export interface DynamicHeader {
  dataOffset: number;
  tableOffset: number;
  version: number;
  maxTableEntries: number;
  blockSize: number;
  checksum: number;
  parentUniqueId: Uint8Array;
  parentTimestamp: number;
  parentName: string;
  locators: ParentLocator[];
}

export function platformName(code: number): string {
  for (const [name, c] of Object.entries(PLATFORM)) if (c === code) return name;
  return `0x${code.toString(16).padStart(8, '0')}`;
}

/** Bytes of the sector bitmap in front of each block (1 bit a sector, padded to a sector). */
export function bitmapBytes(blockSize: number): number {
  return Math.ceil(blockSize / 512 / 8 / 512) * 512;
}

export function parseHeader(buf: Uint8Array, where: string): DynamicHeader {
  if (buf.length < HEADER_SIZE) throw new VhdError('truncated', `${where}: file too short for the dynamic disk header`);
  if (ascii(buf, 0, 8) !== HEADER_COOKIE) {
    throw new VhdError('bad-header', `${where}: no dynamic disk header ("cxsparse" cookie missing)`);
  }
  const dv = view(buf);
  const locators: ParentLocator[] = [];
  for (let i = 0; i < LOCATOR_COUNT; i++) {
    const at = LOCATORS_AT + 24 * i;
    locators.push({
      platformCode: dv.getUint32(at),
      dataSpace: dv.getUint32(at + 4),
      dataLength: dv.getUint32(at + 8),
      dataOffset: getU64(dv, at + 16),
    });
  }
  const h: DynamicHeader = {
    dataOffset: getU64(dv, 8),
    tableOffset: getU64(dv, 16),
    version: dv.getUint32(24),
    maxTableEntries: dv.getUint32(28),
    blockSize: dv.getUint32(32),
    checksum: dv.getUint32(CHECKSUM_AT),
    parentUniqueId: buf.slice(40, 56),
    parentTimestamp: dv.getUint32(56),
    parentName: decodeUtf16(buf.subarray(PARENT_NAME_AT, PARENT_NAME_AT + PARENT_NAME_BYTES), true),
    locators,
  };
  const want = checksum(buf.subarray(0, HEADER_SIZE), CHECKSUM_AT);
  if (h.checksum !== want) {
    throw new VhdError(
      'bad-checksum',
      `${where}: dynamic header checksum mismatch (stored 0x${h.checksum.toString(16)}, computed 0x${want.toString(16)})`,
    );
  }
  if (h.version >>> 16 !== 1) {
    throw new VhdError('unsupported', `${where}: unsupported dynamic header version 0x${h.version.toString(16)}`);
  }
  const bs = h.blockSize;
  if (bs < MIN_BLOCK_SIZE || bs > MAX_BLOCK_SIZE || (bs & (bs - 1)) !== 0) {
    throw new VhdError('bad-header', `${where}: block size ${bs} is not a power of two between 512 B and 256 MiB`);
  }
  if (!Number.isFinite(h.tableOffset) || h.tableOffset === NO_OFFSET || h.tableOffset % 512 !== 0) {
    throw new VhdError('bad-header', `${where}: BAT offset ${h.tableOffset} is not a sector offset`);
  }
  return h;
}

export function encodeHeader(h: DynamicHeader): Uint8Array {
  const buf = new Uint8Array(HEADER_SIZE);
  const dv = view(buf);
  putAscii(buf, 0, HEADER_COOKIE);
  setU64(dv, 8, h.dataOffset);
  setU64(dv, 16, h.tableOffset);
  dv.setUint32(24, h.version);
  dv.setUint32(28, h.maxTableEntries);
  dv.setUint32(32, h.blockSize);
  buf.set(h.parentUniqueId.subarray(0, 16), 40);
  dv.setUint32(56, h.parentTimestamp);
  const name = encodeUtf16(h.parentName, true);
  if (name.length > PARENT_NAME_BYTES) throw new VhdError('bad-header', `parent name too long: ${h.parentName}`);
  buf.set(name, PARENT_NAME_AT);
  for (let i = 0; i < LOCATOR_COUNT; i++) {
    const l = h.locators[i];
    if (!l) continue;
    const at = LOCATORS_AT + 24 * i;
    dv.setUint32(at, l.platformCode);
    dv.setUint32(at + 4, l.dataSpace);
    dv.setUint32(at + 8, l.dataLength);
    setU64(dv, at + 16, l.dataOffset);
  }
  h.checksum = checksum(buf, CHECKSUM_AT);
  dv.setUint32(CHECKSUM_AT, h.checksum);
  return buf;
}

export function newHeader(opts: {
  tableOffset: number;
  maxTableEntries: number;
  blockSize: number;
  parentUniqueId?: Uint8Array;
  parentTimestamp?: number;
  parentName?: string;
  locators?: ParentLocator[];
}): DynamicHeader {
  const locators = opts.locators ?? [];
  return {
    dataOffset: NO_OFFSET,
    tableOffset: opts.tableOffset,
    version: 0x0001_0000,
    maxTableEntries: opts.maxTableEntries,
    blockSize: opts.blockSize,
    checksum: 0,
    parentUniqueId: opts.parentUniqueId ?? new Uint8Array(16),
    parentTimestamp: opts.parentTimestamp ?? 0,
    parentName: opts.parentName ?? '',
    locators: Array.from({ length: LOCATOR_COUNT }, (_, i) => locators[i] ?? emptyLocator()),
  };
}

function emptyLocator(): ParentLocator {
  return { platformCode: 0, dataSpace: 0, dataLength: 0, dataOffset: 0 };
}

/**
 * Bytes of the file a locator's data occupies. The spec counts dataSpace in
 * sectors but some writers store bytes, so layout checks go by the data
 * length, rounded up to a sector, which both conventions agree on.
 */
export function locatorSpan(l: ParentLocator): number {
  return Math.ceil(l.dataLength / 512) * 512;
}
