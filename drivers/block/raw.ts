// Raw disk images: the file is the disk. The size is the file size rounded
// down to whole sectors.
import { BlockError, type BlockDevice, checkRequest, SECTOR_SIZE } from './device.ts';
import { NodeFile, type RandomAccessFile } from './file.ts';

export class RawDevice implements BlockDevice {
  readonly size: number;
  private closed = false;

  constructor(
    private readonly file: RandomAccessFile,
    readonly readOnly = false,
  ) {
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

  read(offset: number, buf: Uint8Array): void {
    checkRequest(this, offset, buf.length, false);
    const n = this.file.read(buf, offset);
    if (n < buf.length) buf.fill(0, n);
  }

  write(offset: number, buf: Uint8Array): void {
    checkRequest(this, offset, buf.length, true);
    if (this.closed) throw new BlockError('device is closed');
    this.file.write(buf, offset);
  }

  flush(): void {
    if (!this.readOnly && !this.closed) this.file.sync();
  }

  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } finally {
      this.closed = true;
      this.file.close();
    }
  }
}
