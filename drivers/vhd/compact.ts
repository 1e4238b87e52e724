// Rewrites a dynamic or differencing disk without the space it does not
// need (`hv vhd compact`): leaked space, and blocks that hold nothing (all
// their sectors zero in a dynamic disk; no sector of their own in a
// differencing one). The footer (unique id, timestamp, creator, size), the
// parent fields and the locators are kept, so children still find this disk
// and every reader sees the same size. The new image is written beside the
// old one, synced, and renamed over it: a crash leaves one or the other.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NodeFile, type RandomAccessFile } from '../block/file.ts';
import { encodeBatPadded, UNALLOCATED } from './bat.ts';
import { noneSet, runLength, testBit } from './bitmap.ts';
import { alignUp, isZero, SECTOR } from './bytes.ts';
import { VhdError } from './errors.ts';
import { encodeFooter, FOOTER_SIZE } from './footer.ts';
import { encodeHeader, HEADER_SIZE, type ParentLocator } from './header.ts';
import { readExactly, readLayout, strictSink, type Layout } from './layout.ts';
import { noProgress, type Progress } from './progress.ts';

export interface CompactResult {
  before: number;
  after: number;
  blocksBefore: number;
  blocksAfter: number;
}

/** Zeroes the data of sectors whose bitmap bit is clear (their bytes mean nothing). */
function maskData(bitmap: Uint8Array, data: Uint8Array): void {
  const sectors = data.length / SECTOR;
  for (let s = 0; s < sectors; ) {
    const n = runLength(bitmap, s, sectors - s);
    if (!testBit(bitmap, s)) data.fill(0, s * SECTOR, (s + n) * SECTOR);
    s += n;
  }
}

function writeCompacted(src: RandomAccessFile, layout: Layout, dst: RandomAccessFile, onProgress: Progress): number {
  const header = { ...layout.header! };
  const { blockSize, bitmapSize } = layout;
  const srcBat = layout.bat!;
  const bat = new Uint32Array(srcBat.length).fill(UNALLOCATED);
  const batBytes = encodeBatPadded(bat).length;
  const tableOffset = FOOTER_SIZE + HEADER_SIZE;
  let at = tableOffset + batBytes;
  const locators: ParentLocator[] = [];
  const payloads: { at: number; data: Uint8Array }[] = [];
  header.locators.forEach((l, i) => {
    if (l.platformCode === 0 || l.dataLength === 0) {
      locators.push({ platformCode: 0, dataSpace: 0, dataLength: 0, dataOffset: 0 });
      return;
    }
    const data = readExactly(src, l.dataOffset, l.dataLength, `parent locator ${i}`);
    const space = alignUp(data.length, SECTOR);
    locators.push({ ...l, dataSpace: space / SECTOR, dataOffset: at });
    payloads.push({ at, data });
    at += space;
  });
  const differencing = layout.type === 'differencing';
  const bitmap = new Uint8Array(bitmapSize);
  const data = new Uint8Array(blockSize);
  const sectors = blockSize / SECTOR;
  let kept = 0;
  for (let i = 0; i < srcBat.length; i++) {
    onProgress(i, srcBat.length);
    if (srcBat[i] === UNALLOCATED) continue;
    const from = srcBat[i]! * SECTOR;
    if (src.read(bitmap, from) !== bitmapSize || src.read(data, from + bitmapSize) !== blockSize) {
      throw new VhdError('io', `short read in block ${i}`);
    }
    if (noneSet(bitmap, sectors)) continue;
    maskData(bitmap, data);
    if (!differencing && isZero(data)) continue;
    bat[i] = at / SECTOR;
    dst.write(bitmap, at);
    dst.write(data, at + bitmapSize);
    at += bitmapSize + blockSize;
    kept++;
  }
  const footer = encodeFooter({ ...layout.footer, dataOffset: FOOTER_SIZE });
  header.tableOffset = tableOffset;
  header.locators = locators;
  dst.write(footer, 0);
  dst.write(encodeHeader(header), FOOTER_SIZE);
  dst.write(encodeBatPadded(bat), tableOffset);
  for (const p of payloads) dst.write(p.data, p.at);
  dst.write(footer, at);
  dst.truncate(at + FOOTER_SIZE);
  dst.sync();
  onProgress(srcBat.length, srcBat.length);
  return kept;
}

export function compactVhdFile(file: string, opts: { onProgress?: Progress } = {}): CompactResult {
  const src = NodeFile.open(file, 'r');
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.compact-${process.pid}`);
  let result: CompactResult;
  try {
    const layout = readLayout(src, strictSink);
    if (layout.type === 'fixed') throw new VhdError('unsupported', 'compact needs a dynamic or differencing disk; this one is fixed');
    const dst = NodeFile.open(tmp, 'w+');
    try {
      const blocksBefore = layout.bat!.reduce((n, e) => n + (e === UNALLOCATED ? 0 : 1), 0);
      const blocksAfter = writeCompacted(src, layout, dst, opts.onProgress ?? noProgress);
      result = { before: layout.fileSize, after: dst.size(), blocksBefore, blocksAfter };
    } finally {
      dst.close();
    }
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  } finally {
    src.close();
  }
  fs.chmodSync(tmp, fs.statSync(file).mode & 0o7777);
  fs.renameSync(tmp, file);
  const dir = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
  return result;
}
