// Writes new fixed, dynamic and differencing images onto a RandomAccessFile.
// Layout of dynamic and differencing disks (as QEMU and Hyper-V lay them out):
//   0     footer copy (512)
//   512   dynamic header (1024)
//   1536  BAT (4 bytes a block, padded to a sector)
//   ...   parent locator data (differencing), each padded to a sector
//   ...   blocks, appended as they are allocated
//   end   footer (512)
import type { RandomAccessFile } from '../block/file.ts';
import { encodeBatPadded, UNALLOCATED } from './bat.ts';
import { alignUp, SECTOR } from './bytes.ts';
import { VhdError } from './errors.ts';
import { DISK_DIFFERENCING, DISK_DYNAMIC, DISK_FIXED, encodeFooter, FOOTER_SIZE, MAX_DISK_SIZE, newFooter, type Footer } from './footer.ts';
import { DEFAULT_BLOCK_SIZE, encodeHeader, HEADER_SIZE, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, newHeader, type ParentLocator } from './header.ts';

export interface CreateOptions {
  /** Virtual size in bytes: a positive multiple of 512, at most MAX_DISK_SIZE. */
  size: number;
  type: 'fixed' | 'dynamic';
  /** Dynamic disks: bytes a block, a power of two (default 2 MiB). */
  blockSize?: number;
  uniqueId?: Uint8Array;
  timestamp?: number;
}

export interface ParentInfo {
  size: number;
  uniqueId: Uint8Array;
  timestamp: number;
  /** Stored in the header's parent name field (UTF-16BE, at most 255 characters). */
  name: string;
  /** Locator payloads, already encoded (UTF-16LE for W2ru/W2ku). */
  locators: { platformCode: number; data: Uint8Array }[];
}

const HEADER_AT = FOOTER_SIZE;
const BAT_AT = HEADER_AT + HEADER_SIZE;

export function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size <= 0 || size % SECTOR !== 0 || size > MAX_DISK_SIZE) {
    throw new VhdError('bad-footer', `disk size ${size} must be a positive multiple of 512 up to ${MAX_DISK_SIZE}`);
  }
}

export function checkBlockSize(bs: number): void {
  if (!Number.isInteger(bs) || bs < MIN_BLOCK_SIZE || bs > MAX_BLOCK_SIZE || (bs & (bs - 1)) !== 0) {
    throw new VhdError('bad-header', `block size ${bs} must be a power of two between 512 B and 256 MiB`);
  }
}

/** Writes a fresh fixed or dynamic disk over `file` (which should be empty). Returns its footer. */
export function createVhd(file: RandomAccessFile, opts: CreateOptions): Footer {
  checkSize(opts.size);
  if (opts.type === 'fixed') {
    const footer = newFooter({ size: opts.size, diskType: DISK_FIXED, dataOffset: -1, uniqueId: opts.uniqueId, timestamp: opts.timestamp });
    file.truncate(0);
    file.truncate(opts.size); // sparse zeros
    file.write(encodeFooter(footer), opts.size);
    file.sync();
    return footer;
  }
  return writeDynamic(file, opts.size, DISK_DYNAMIC, opts, null);
}

/** Writes a fresh differencing disk whose parent is described by `parent`. */
export function createDifferencingVhd(
  file: RandomAccessFile,
  parent: ParentInfo,
  opts: { blockSize?: number; uniqueId?: Uint8Array; timestamp?: number } = {},
): Footer {
  checkSize(parent.size);
  return writeDynamic(file, parent.size, DISK_DIFFERENCING, opts, parent);
}

function writeDynamic(
  file: RandomAccessFile,
  size: number,
  diskType: number,
  opts: { blockSize?: number; uniqueId?: Uint8Array; timestamp?: number },
  parent: ParentInfo | null,
): Footer {
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
  checkBlockSize(blockSize);
  const entries = Math.ceil(size / blockSize);
  const bat = encodeBatPadded(new Uint32Array(entries).fill(UNALLOCATED));
  let at = BAT_AT + bat.length;
  const locators: ParentLocator[] = [];
  const payloads: { at: number; data: Uint8Array }[] = [];
  for (const l of parent?.locators ?? []) {
    const space = alignUp(Math.max(l.data.length, 1), SECTOR);
    locators.push({ platformCode: l.platformCode, dataSpace: space / SECTOR, dataLength: l.data.length, dataOffset: at });
    payloads.push({ at, data: l.data });
    at += space;
  }
  const metaEnd = at;
  const footer = newFooter({ size, diskType, dataOffset: HEADER_AT, uniqueId: opts.uniqueId, timestamp: opts.timestamp });
  const header = newHeader({
    tableOffset: BAT_AT,
    maxTableEntries: entries,
    blockSize,
    parentUniqueId: parent?.uniqueId,
    parentTimestamp: parent?.timestamp,
    parentName: parent?.name,
    locators,
  });
  const image = new Uint8Array(metaEnd + FOOTER_SIZE);
  const footerBytes = encodeFooter(footer);
  image.set(footerBytes, 0);
  image.set(encodeHeader(header), HEADER_AT);
  image.set(bat, BAT_AT);
  for (const p of payloads) image.set(p.data, p.at);
  image.set(footerBytes, metaEnd);
  file.truncate(0);
  file.write(image, 0);
  file.sync();
  return footer;
}
