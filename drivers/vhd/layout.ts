// Reads an image's metadata (footers, dynamic header, BAT, locators) and
// validates where everything sits in the file. Problems a reader cannot get
// past throw VhdError; the rest go to an issue callback, so `open` can refuse
// the image on the first error while `check` lists every problem.
import type { RandomAccessFile } from '../block/file.ts';
import { alignUp, sameBytes, SECTOR } from './bytes.ts';
import { VhdError, type VhdErrorCode } from './errors.ts';
import { encodeFooter, FOOTER_SIZE, hasCookie, MAX_DISK_SIZE, parseFooter, typeName, virtualSize, type DiskType, type Footer } from './footer.ts';
import { bitmapBytes, HEADER_SIZE, locatorSpan, parseHeader, platformName, type DynamicHeader } from './header.ts';
import { UNALLOCATED, readBat } from './bat.ts';

export type Severity = 'error' | 'leak' | 'warning';
export type Repair = 'write-trailing-footer' | 'write-footer-copy' | 'trim-tail';

export interface Issue {
  severity: Severity;
  code: VhdErrorCode | 'leak' | 'layout';
  message: string;
  /** A repair `check -r` may apply safely. */
  repair?: Repair;
  /** Leaked bytes (severity 'leak'). */
  bytes?: number;
}

export interface Region {
  start: number;
  end: number;
  what: string;
}

export interface Layout {
  fileSize: number;
  type: DiskType;
  /** The footer readers use: the copy at 0 for dynamic disks, else the trailing one. */
  footer: Footer;
  /** Virtual disk size in bytes. */
  size: number;
  /** Where the trailing footer is (fileSize - 512) and whether it is valid and matches. */
  trailingFooterAt: number;
  trailingOk: boolean;
  header: DynamicHeader | null;
  /** BAT in host order; null for fixed disks. */
  bat: Uint32Array | null;
  blockSize: number;
  bitmapSize: number;
  /** End of the metadata (header, BAT, locators) of a dynamic disk. */
  metaEnd: number;
  /** End of the last structure the image uses (the data of a fixed disk). */
  dataEnd: number;
}

export type IssueSink = (issue: Issue) => void;

/** A sink for readers: the first error aborts with a VhdError; leaks and warnings pass. */
export const strictSink: IssueSink = (issue) => {
  if (issue.severity === 'error') throw new VhdError(issue.code === 'leak' || issue.code === 'layout' ? 'bad-header' : issue.code, issue.message);
};

export function readExactly(file: RandomAccessFile, pos: number, len: number, what: string): Uint8Array {
  const buf = new Uint8Array(len);
  const n = file.read(buf, pos);
  if (n !== len) throw new VhdError('truncated', `${what} at offset ${pos} runs past the end of the file`);
  return buf;
}

function tryFooter(buf: Uint8Array, where: string): { footer?: Footer; error?: VhdError } {
  try {
    return { footer: parseFooter(buf, where) };
  } catch (e) {
    if (e instanceof VhdError) return { error: e };
    throw e;
  }
}

/** Finds and checks the footers; returns the authoritative one. */
function locateFooter(file: RandomAccessFile, fileSize: number): { footer: Footer; trailingOk: boolean; issue: Issue | null } {
  if (fileSize < FOOTER_SIZE) {
    throw new VhdError('truncated', `file is ${fileSize} bytes, shorter than a VHD footer`);
  }
  const head = readExactly(file, 0, FOOTER_SIZE, 'footer copy');
  const tail = readExactly(file, fileSize - FOOTER_SIZE, FOOTER_SIZE, 'footer');
  const h = hasCookie(head) ? tryFooter(head, 'footer copy at offset 0') : {};
  const t = hasCookie(tail) ? tryFooter(tail, 'trailing footer') : {};
  const headDynamic = h.footer && h.footer.diskType !== 2;

  if (headDynamic) {
    const footer = h.footer!;
    const trailingOk = !!t.footer && sameBytes(encodeFooter({ ...t.footer }), encodeFooter({ ...footer }));
    let issue: Issue | null = null;
    if (!trailingOk) {
      const why = t.error ? t.error.message : t.footer ? 'trailing footer differs from the copy at offset 0' : 'trailing footer missing';
      issue = { severity: 'error', code: t.error?.code ?? 'bad-footer', message: why, repair: 'write-trailing-footer' };
    }
    return { footer, trailingOk, issue };
  }
  if (t.footer) {
    let issue: Issue | null = null;
    if (t.footer.diskType !== 2) {
      // A dynamic disk whose copy at offset 0 is damaged or missing.
      const why = h.error ? h.error.message : 'footer copy at offset 0 missing';
      issue = { severity: 'error', code: h.error?.code ?? 'bad-footer', message: why, repair: 'write-footer-copy' };
    }
    return { footer: t.footer, trailingOk: true, issue };
  }
  if (h.error && !h.footer) throw h.error;
  if (t.error) throw t.error;
  throw new VhdError('not-vhd', 'not a VHD image (no "conectix" footer at the start or the end)');
}

export function readLayout(file: RandomAccessFile, report: IssueSink = strictSink): Layout {
  const fileSize = file.size();
  const { footer, trailingOk, issue } = locateFooter(file, fileSize);
  // A footer copy problem is reported after the structural checks, which say more (a truncated file, say).
  const reportFooter = (): void => {
    if (issue) report(issue);
  };
  const type = typeName(footer.diskType);
  const size = virtualSize(footer);
  const trailingFooterAt = fileSize - FOOTER_SIZE;
  if (fileSize % SECTOR !== 0) {
    report({ severity: 'warning', code: 'layout', message: `file size ${fileSize} is not a multiple of 512` });
  }
  const base = { fileSize, type, footer, size, trailingFooterAt, trailingOk };
  if (type === 'fixed') {
    if (size > trailingFooterAt) {
      throw new VhdError('truncated', `fixed disk of ${size} bytes needs ${size + FOOTER_SIZE} bytes of file, has ${fileSize}`);
    }
    if (size < trailingFooterAt) {
      report({ severity: 'warning', code: 'layout', message: `${trailingFooterAt - size} bytes between the data and the footer` });
    }
    reportFooter();
    return { ...base, header: null, bat: null, blockSize: 0, bitmapSize: 0, metaEnd: 0, dataEnd: size };
  }
  const layout = readDynamicLayout(file, base, report);
  reportFooter();
  return layout;
}

function readDynamicLayout(
  file: RandomAccessFile,
  base: Pick<Layout, 'fileSize' | 'type' | 'footer' | 'size' | 'trailingFooterAt' | 'trailingOk'>,
  report: IssueSink,
): Layout {
  const { fileSize, footer, size, trailingOk } = base;
  const at = footer.dataOffset;
  if (at < FOOTER_SIZE || at % SECTOR !== 0 || at + HEADER_SIZE > fileSize) {
    throw new VhdError(at + HEADER_SIZE > fileSize ? 'truncated' : 'bad-footer', `dynamic header offset ${at} is outside the file`);
  }
  const header = parseHeader(readExactly(file, at, HEADER_SIZE, 'dynamic header'), 'dynamic header');
  const { blockSize, maxTableEntries: entries, tableOffset } = header;
  const bitmapSize = bitmapBytes(blockSize);
  if (entries * blockSize < size || entries > Math.ceil(MAX_DISK_SIZE / blockSize)) {
    throw new VhdError('bad-header', `BAT of ${entries} entries of ${blockSize} bytes does not fit a disk of ${size} bytes`);
  }
  if (base.type === 'differencing' && header.parentUniqueId.every((b) => b === 0)) {
    report({ severity: 'error', code: 'bad-header', message: 'differencing disk without a parent unique id' });
  }
  const batBytes = alignUp(entries * 4, SECTOR);
  if (tableOffset + entries * 4 > fileSize) {
    throw new VhdError('truncated', `BAT at ${tableOffset} (${entries} entries) runs past the end of the file (${fileSize} bytes)`);
  }
  const bat = readBat(file, tableOffset, entries);

  const meta: Region[] = [
    { start: 0, end: FOOTER_SIZE, what: 'footer copy' },
    { start: at, end: at + HEADER_SIZE, what: 'dynamic header' },
    { start: tableOffset, end: tableOffset + batBytes, what: 'BAT' },
  ];
  header.locators.forEach((l, i) => {
    if (l.platformCode === 0 || l.dataLength === 0) return;
    const span = locatorSpan(l);
    if (!Number.isFinite(l.dataOffset) || l.dataOffset < 0 || l.dataOffset + l.dataLength > fileSize) {
      report({ severity: 'error', code: 'locator', message: `parent locator ${i} (${platformName(l.platformCode)}) points outside the file` });
      return;
    }
    meta.push({ start: l.dataOffset, end: l.dataOffset + span, what: `parent locator ${i}` });
  });
  meta.sort((a, b) => a.start - b.start);
  for (let i = 1; i < meta.length; i++) {
    if (meta[i]!.start < meta[i - 1]!.end) {
      report({ severity: 'error', code: 'bat-overlap', message: `${meta[i - 1]!.what} overlaps ${meta[i]!.what}` });
    }
  }
  const metaEnd = Math.max(...meta.map((r) => r.end));
  // Blocks may run up to the trailing footer; if that is damaged, to the end of the file.
  const limit = trailingOk ? base.trailingFooterAt : fileSize;
  const blocks = checkBlocks(bat, bitmapSize + blockSize, meta, limit, fileSize, report);
  const dataEnd = blocks.reduce((m, r) => Math.max(m, r.end), metaEnd);
  reportLeaks(blocks, metaEnd, limit, report);
  return { ...base, header, bat, blockSize, bitmapSize, metaEnd, dataEnd };
}

const MAX_REPORTED = 8;

function checkBlocks(bat: Uint32Array, span: number, meta: Region[], limit: number, fileSize: number, report: IssueSink): Region[] {
  const blocks: Region[] = [];
  let outside = 0;
  for (let i = 0; i < bat.length; i++) {
    const e = bat[i]!;
    if (e === UNALLOCATED) continue;
    const start = e * SECTOR;
    const end = start + span;
    if (end > limit) {
      if (outside++ < MAX_REPORTED) {
        const message =
          end > fileSize && start < fileSize
            ? `file truncated: block ${i} spans ${start}..${end} but the file ends at ${fileSize}`
            : `BAT entry ${i} points to ${start}..${end}, past the data area (ends at ${limit})`;
        report({ severity: 'error', code: end > fileSize && start < fileSize ? 'truncated' : 'bat-range', message });
      }
      continue;
    }
    blocks.push({ start, end, what: `block ${i}` });
  }
  if (outside > MAX_REPORTED) {
    report({ severity: 'error', code: 'bat-range', message: `${outside - MAX_REPORTED} more BAT entries point past the data area` });
  }
  blocks.sort((a, b) => a.start - b.start);
  let overlaps = 0;
  let mi = 0;
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i]!;
    const prev = blocks[i - 1];
    if (prev && b.start < prev.end) {
      if (overlaps++ < MAX_REPORTED) report({ severity: 'error', code: 'bat-overlap', message: `${prev.what} and ${b.what} overlap at ${b.start}` });
    }
    while (mi < meta.length && meta[mi]!.end <= b.start) mi++;
    const hit: string[] = [];
    for (let j = mi; j < meta.length && meta[j]!.start < b.end; j++) hit.push(meta[j]!.what);
    if (hit.length && overlaps++ < MAX_REPORTED) {
      report({ severity: 'error', code: 'bat-overlap', message: `${b.what} overlaps the ${hit.join(', ')}` });
    }
  }
  if (overlaps > MAX_REPORTED) {
    report({ severity: 'error', code: 'bat-overlap', message: `${overlaps - MAX_REPORTED} more overlapping blocks` });
  }
  return blocks;
}

/** Space between the metadata and the trailing footer that no block uses. */
function reportLeaks(sortedBlocks: Region[], metaEnd: number, limit: number, report: IssueSink): void {
  let leaked = 0;
  let cursor = metaEnd;
  for (const b of sortedBlocks) {
    if (b.start > cursor) leaked += b.start - cursor;
    cursor = Math.max(cursor, b.end);
  }
  const tail = Math.max(0, limit - cursor);
  leaked += tail;
  if (leaked > 0) {
    report({
      severity: 'leak',
      code: 'leak',
      message: `${leaked} bytes of the file are not used by any block${tail > 0 ? ` (${tail} at the end)` : ''}`,
      bytes: leaked,
      ...(tail > 0 ? { repair: 'trim-tail' as const } : {}),
    });
  }
}
