// Dynamic and differencing disks: a BAT maps each block of the virtual disk
// to a sector bitmap plus data in the file; unallocated blocks, and sectors
// whose bitmap bit is clear, read as zeros (dynamic) or from the parent
// (differencing).
//
// Crash safety. Data goes to its final place at once, but nothing on disk
// points at it until flush():
//   allocate:  write the new trailing footer after the new block's end and
//              sync (the file grows; the old footer becomes the start of the
//              block's bitmap area, which no BAT entry references yet);
//   write:     data into the block, in place; bitmap changes stay in memory;
//   flush:     sync; write changed bitmaps; sync; write changed BAT sectors;
//              sync.
// So at every instant the BAT only references blocks whose bitmap and data
// are durable, and a bitmap bit is only set on disk for data that is. A crash
// at any point loses at most the writes since the last flush and may leave
// unreferenced space at the end of the file (a leak `check -r` trims).
import { type BlockDevice, BlockError, checkRequest } from '../block/device.ts';
import type { RandomAccessFile } from '../block/file.ts';
import { ENTRIES_PER_SECTOR, encodeBat, UNALLOCATED } from './bat.ts';
import { allSet, runLength, setBits, testBit } from './bitmap.ts';
import { alignUp, SECTOR } from './bytes.ts';
import { type Extent, pushExtent, type VhdDisk } from './disk.ts';
import { VhdError } from './errors.ts';
import { encodeFooter, type Footer } from './footer.ts';
import type { DynamicHeader } from './header.ts';
import type { Layout } from './layout.ts';

export interface DynamicOptions {
  readOnly?: boolean;
  /** The parent of a differencing disk. */
  parent?: BlockDevice | null;
  /** Close the parent when this disk is closed. */
  ownsParent?: boolean;
  /** Clean bitmaps kept in memory (default 4096). */
  bitmapCache?: number;
}

/** Largest byte offset a BAT entry (u32 sectors) can name. */
const MAX_BLOCK_OFFSET = (UNALLOCATED - 1) * SECTOR;

export class DynamicVhd implements VhdDisk {
  readonly size: number;
  readonly readOnly: boolean;
  readonly type: 'dynamic' | 'differencing';
  readonly footer: Footer;
  readonly header: DynamicHeader;
  readonly parent: BlockDevice | null;
  readonly blockSize: number;
  readonly bitmapSize: number;
  private readonly bat: Uint32Array;
  private readonly sectorsPerBlock: number;
  private readonly footerBytes: Uint8Array;
  private readonly bitmaps = new Map<number, Uint8Array>();
  private readonly full = new Set<number>();
  private readonly dirtyBitmaps = new Set<number>();
  private readonly dirtyBatSectors = new Set<number>();
  private readonly cacheLimit: number;
  private readonly ownsParent: boolean;
  private readonly metaEnd: number;
  private nextFree: number;
  private closed = false;

  constructor(
    private readonly file: RandomAccessFile,
    layout: Layout,
    opts: DynamicOptions = {},
  ) {
    if (!layout.header || !layout.bat) throw new VhdError('bad-header', 'not a dynamic disk layout');
    this.type = layout.type === 'differencing' ? 'differencing' : 'dynamic';
    this.size = layout.size;
    this.readOnly = opts.readOnly ?? false;
    this.footer = layout.footer;
    this.header = layout.header;
    this.bat = layout.bat;
    this.blockSize = layout.blockSize;
    this.bitmapSize = layout.bitmapSize;
    this.sectorsPerBlock = layout.blockSize / SECTOR;
    this.parent = opts.parent ?? null;
    this.ownsParent = opts.ownsParent ?? false;
    this.cacheLimit = opts.bitmapCache ?? 4096;
    this.footerBytes = encodeFooter({ ...layout.footer });
    this.metaEnd = layout.metaEnd;
    this.nextFree = alignUp(Math.max(layout.dataEnd, layout.trailingFooterAt), SECTOR);
    if (this.type === 'differencing' && !this.parent) {
      throw new VhdError('parent-missing', 'differencing disk opened without its parent');
    }
  }

  get blockCount(): number {
    return this.bat.length;
  }

  /** File offset of block `i`'s bitmap, or null when unallocated. */
  blockOffset(i: number): number | null {
    const e = this.bat[i];
    return e === undefined || e === UNALLOCATED ? null : e * SECTOR;
  }

  read(offset: number, buf: Uint8Array): void {
    checkRequest(this, offset, buf.length, false);
    this.forEachBlock(offset, buf.length, (block, inBlock, pos, len) => {
      this.readInBlock(block, inBlock, buf.subarray(pos, pos + len), offset + pos);
    });
  }

  write(offset: number, buf: Uint8Array): void {
    checkRequest(this, offset, buf.length, true);
    this.ensureOpen();
    this.forEachBlock(offset, buf.length, (block, inBlock, pos, len) => {
      let at = this.blockOffset(block);
      if (at === null) at = this.allocate(block);
      this.file.write(buf.subarray(pos, pos + len), at + this.bitmapSize + inBlock);
      if (this.full.has(block)) return;
      const bitmap = this.bitmap(block, at);
      if (setBits(bitmap, inBlock / SECTOR, len / SECTOR)) this.dirtyBitmaps.add(block);
      if (allSet(bitmap, this.sectorsPerBlock)) this.full.add(block);
    });
  }

  flush(): void {
    if (this.readOnly || this.closed) return;
    if (this.dirtyBitmaps.size === 0 && this.dirtyBatSectors.size === 0) {
      this.file.sync();
      return;
    }
    this.file.sync(); // data and new trailing footers before anything points at them
    for (const block of [...this.dirtyBitmaps].sort((a, b) => a - b)) {
      this.file.write(this.bitmaps.get(block)!, this.blockOffset(block)!);
    }
    this.dirtyBitmaps.clear();
    this.file.sync(); // bitmaps before the BAT entries that reference new blocks
    const sectors = [...this.dirtyBatSectors].sort((a, b) => a - b);
    for (let i = 0; i < sectors.length; ) {
      let j = i + 1;
      while (j < sectors.length && sectors[j] === sectors[j - 1]! + 1) j++;
      const from = sectors[i]! * ENTRIES_PER_SECTOR;
      const to = Math.min(this.bat.length, (sectors[j - 1]! + 1) * ENTRIES_PER_SECTOR);
      this.file.write(encodeBat(this.bat, from, to), this.header.tableOffset + from * 4);
      i = j;
    }
    this.dirtyBatSectors.clear();
    this.file.sync();
    this.trimCache();
  }

  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } finally {
      this.closed = true;
      this.file.close();
      if (this.ownsParent) this.parent?.close();
    }
  }

  /** The byte ranges whose data this disk holds itself (set bitmap bits), merged. */
  ownedExtents(): Extent[] {
    const out: Extent[] = [];
    for (let block = 0; block < this.bat.length; block++) {
      const at = this.blockOffset(block);
      if (at === null) continue;
      const base = block * this.blockSize;
      const sectors = Math.min(this.sectorsPerBlock, (this.size - base) / SECTOR);
      if (sectors <= 0) continue;
      const bitmap = this.bitmap(block, at);
      for (let s = 0; s < sectors; ) {
        const n = runLength(bitmap, s, sectors - s);
        if (testBit(bitmap, s)) pushExtent(out, base + s * SECTOR, n * SECTOR);
        s += n;
      }
    }
    return out;
  }

  /** The bitmap of an allocated block (a live reference: do not modify). */
  blockBitmap(block: number): Uint8Array | null {
    const at = this.blockOffset(block);
    return at === null ? null : this.bitmap(block, at);
  }

  /** Reads a block's own data bytes [inBlock, inBlock+out.length) regardless of its bitmap. */
  readBlockData(block: number, inBlock: number, out: Uint8Array): void {
    const at = this.blockOffset(block);
    if (at === null) out.fill(0);
    else this.readFile(at + this.bitmapSize + inBlock, out);
  }

  /**
   * Forgets every block (commit's "empty the overlay"): the BAT is cleared
   * on disk first, then the file shrinks to its metadata.
   */
  discardAllBlocks(): void {
    if (this.readOnly) throw new BlockError('write to a read-only device');
    this.flush();
    this.bat.fill(UNALLOCATED);
    this.bitmaps.clear();
    this.full.clear();
    this.file.write(encodeBat(this.bat), this.header.tableOffset);
    this.file.sync();
    const end = alignUp(this.metaEnd, SECTOR);
    this.file.write(this.footerBytes, end);
    this.file.sync();
    this.file.truncate(end + this.footerBytes.length);
    this.file.sync();
    this.nextFree = end;
  }

  private forEachBlock(offset: number, length: number, fn: (block: number, inBlock: number, pos: number, len: number) => void): void {
    let pos = 0;
    while (pos < length) {
      const abs = offset + pos;
      const block = Math.floor(abs / this.blockSize);
      const inBlock = abs - block * this.blockSize;
      const len = Math.min(length - pos, this.blockSize - inBlock);
      fn(block, inBlock, pos, len);
      pos += len;
    }
  }

  private readInBlock(block: number, inBlock: number, out: Uint8Array, abs: number): void {
    const at = this.blockOffset(block);
    if (at === null) return this.readBacking(abs, out);
    const data = at + this.bitmapSize + inBlock;
    if (this.full.has(block)) return this.readFile(data, out);
    const bitmap = this.bitmap(block, at);
    if (this.full.has(block)) return this.readFile(data, out);
    const first = inBlock / SECTOR;
    const count = out.length / SECTOR;
    for (let s = 0; s < count; ) {
      const n = runLength(bitmap, first + s, count - s);
      const part = out.subarray(s * SECTOR, (s + n) * SECTOR);
      if (testBit(bitmap, first + s)) this.readFile(data + s * SECTOR, part);
      else this.readBacking(abs + s * SECTOR, part);
      s += n;
    }
  }

  /** What a sector this disk does not hold reads as: the parent's data, or zeros. */
  private readBacking(abs: number, out: Uint8Array): void {
    const p = this.parent;
    if (!p) {
      out.fill(0);
      return;
    }
    const inParent = Math.max(0, Math.min(out.length, p.size - abs));
    if (inParent > 0) p.read(abs, out.subarray(0, inParent));
    out.fill(0, inParent);
  }

  private readFile(pos: number, out: Uint8Array): void {
    const n = this.file.read(out, pos);
    if (n !== out.length) throw new VhdError('io', `short read at ${pos}: file ends ${out.length - n} bytes early`);
  }

  private bitmap(block: number, at: number): Uint8Array {
    let b = this.bitmaps.get(block);
    if (b) return b;
    b = new Uint8Array(this.bitmapSize);
    this.readFile(at, b);
    if (allSet(b, this.sectorsPerBlock)) this.full.add(block);
    if (this.bitmaps.size >= this.cacheLimit) this.trimCache();
    this.bitmaps.set(block, b);
    return b;
  }

  /** Drops clean cached bitmaps beyond the cache limit (oldest first). */
  private trimCache(): void {
    for (const key of this.bitmaps.keys()) {
      if (this.bitmaps.size < this.cacheLimit) break;
      if (!this.dirtyBitmaps.has(key)) this.bitmaps.delete(key);
    }
  }

  private allocate(block: number): number {
    const at = this.nextFree;
    const end = at + this.bitmapSize + this.blockSize;
    if (at > MAX_BLOCK_OFFSET) throw new VhdError('disk-full', `cannot allocate block ${block}: file offset ${at} beyond 2 TiB`);
    this.file.write(this.footerBytes, end);
    // The new footer must be durable before data lands in the block: a data
    // write that reached the disk without it would leave no footer at the end.
    this.file.sync();
    this.nextFree = end;
    this.bat[block] = at / SECTOR;
    this.dirtyBatSectors.add(Math.floor(block / ENTRIES_PER_SECTOR));
    this.bitmaps.set(block, new Uint8Array(this.bitmapSize));
    this.dirtyBitmaps.add(block);
    return at;
  }

  private ensureOpen(): void {
    if (this.closed) throw new BlockError('device is closed');
  }
}

