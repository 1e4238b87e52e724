// Raw disk images: the file is the disk. The size is the file size rounded
// down to whole sectors.
import { BlockError, SECTOR_SIZE } from './device.ts';
import { NodeFile, type RandomAccessFile } from './file.ts';
import { FlatFileDevice } from './flat.ts';

export class RawDevice extends FlatFileDevice {
  readonly size: number;

  constructor(file: RandomAccessFile, readOnly = false) {
    super(file, readOnly);
    this.size = Math.floor(file.size() / SECTOR_SIZE) * SECTOR_SIZE;
  }

  static open(path: string, opts: { readOnly?: boolean } = {}): RawDevice {
    const readOnly = opts.readOnly ?? false;
    return new RawDevice(NodeFile.open(path, readOnly ? 'r' : 'r+'), readOnly);
  }

  /** Creates (or truncates) a sparse raw image of `size` bytes. */
  static create(path: string, size: number): RawDevice {
    if (size % SECTOR_SIZE !== 0 || size < 0) throw new BlockError(`raw image size ${size} is not a multiple of ${SECTOR_SIZE}`);
    const file = NodeFile.open(path, 'w+');
    file.truncate(size);
    return new RawDevice(file);
  }

  /** The last partial sector of an image whose size is not a multiple of 512 reads as zeros. */
  protected shortRead(_offset: number, buf: Uint8Array, n: number): void {
    buf.fill(0, n);
  }
}
