// A SCSI direct-access device (SBC-3 / SPC-3 subset) over any BlockDevice:
// what the synthetic storage controller (storvsc.ts) runs each SRB's CDB on.
// The commands are those Linux's sd driver sends a Hyper-V disk: TEST UNIT
// READY, REQUEST SENSE, INQUIRY (standard and VPD 0x00/0x80), READ
// CAPACITY(10)/(16), READ/WRITE(10)/(16), SYNCHRONIZE CACHE(10)/(16), MODE
// SENSE(6)/(10) (header, no pages but caching). Anything else, a bad field
// or an LBA out of range is CHECK CONDITION with fixed-format sense data
// (SPC-3 4.5.3), which storvsc returns as autosense.
import { BlockError, type BlockDevice, SECTOR_SIZE } from '../block/device.ts';

export const ScsiStatus = { GOOD: 0x00, CHECK_CONDITION: 0x02 } as const;
export const SenseKey = { NO_SENSE: 0x0, MEDIUM_ERROR: 0x3, ILLEGAL_REQUEST: 0x5, DATA_PROTECT: 0x7 } as const;
/** Additional sense codes (SPC-3 table 28): ASC << 8 | ASCQ. */
export const Asc = {
  INVALID_OPCODE: 0x2000,
  LBA_OUT_OF_RANGE: 0x2100,
  INVALID_FIELD_IN_CDB: 0x2400,
  WRITE_PROTECTED: 0x2700,
  WRITE_ERROR: 0x0c00,
  UNRECOVERED_READ_ERROR: 0x1100,
} as const;

export const Op = {
  TEST_UNIT_READY: 0x00,
  REQUEST_SENSE: 0x03,
  INQUIRY: 0x12,
  MODE_SENSE_6: 0x1a,
  READ_CAPACITY_10: 0x25,
  READ_10: 0x28,
  WRITE_10: 0x2a,
  SYNCHRONIZE_CACHE_10: 0x35,
  MODE_SENSE_10: 0x5a,
  READ_16: 0x88,
  WRITE_16: 0x8a,
  SYNCHRONIZE_CACHE_16: 0x91,
  SERVICE_ACTION_IN_16: 0x9e,
} as const;
const SAI_READ_CAPACITY_16 = 0x10;
/** Fixed-format sense data: response code 0x70, key at 2, additional length 10 at 7, ASC/ASCQ at 12/13. */
export const SENSE_LENGTH = 18;

/** How a command ended: status, the data it returns (data-in), bytes moved, sense data on CHECK CONDITION. */
export interface ScsiResult {
  status: number;
  dataIn?: Uint8Array;
  /** Bytes transferred to or from the initiator's buffer. */
  transferred: number;
  sense?: Uint8Array;
}

/** A command: its CDB, the initiator's buffer length, and for data-out commands the data (read from it on demand). */
export interface ScsiCommand {
  cdb: Uint8Array;
  bufferLength: number;
  /** Data-out: the first `n` bytes of the initiator's buffer. */
  dataOut(n: number): Uint8Array;
}

const ok = (dataIn?: Uint8Array, transferred = dataIn?.length ?? 0): ScsiResult => ({ status: ScsiStatus.GOOD, dataIn, transferred });

export function checkCondition(key: number, asc: number): ScsiResult {
  const sense = new Uint8Array(SENSE_LENGTH);
  sense[0] = 0x70;
  sense[2] = key;
  sense[7] = SENSE_LENGTH - 8;
  sense[12] = asc >> 8;
  sense[13] = asc & 0xff;
  return { status: ScsiStatus.CHECK_CONDITION, transferred: 0, sense };
}

export interface ScsiDiskIdentity {
  /** INQUIRY vendor (8 chars), product (16), revision (4): padded with spaces. */
  vendor: string;
  product: string;
  revision: string;
  /** VPD page 0x80 unit serial number. */
  serial: string;
}

export class ScsiDisk {
  /** Commands run, by outcome (for hv's statistics and the bench). */
  readonly stats = { commands: 0, reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, flushes: 0, errors: 0 };

  constructor(
    readonly disk: BlockDevice,
    private readonly id: ScsiDiskIdentity,
    /** Largest data transfer of one command (the controller announces it). */
    readonly maxTransfer: number,
  ) {}

  get blocks(): bigint {
    return BigInt(this.disk.size / SECTOR_SIZE);
  }

  execute(cmd: ScsiCommand): ScsiResult {
    this.stats.commands++;
    const r = this.run(cmd);
    if (r.status !== ScsiStatus.GOOD) this.stats.errors++;
    return r;
  }

  private run(cmd: ScsiCommand): ScsiResult {
    const c = cmd.cdb;
    const dv = new DataView(c.buffer, c.byteOffset, c.length);
    const need = (n: number) => c.length >= n;
    const bad = () => checkCondition(SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
    switch (c[0]) {
      case Op.TEST_UNIT_READY:
        return ok();
      case Op.REQUEST_SENSE:
        // Sense travels with each failed command (autosense): nothing is held back.
        return ok(clip(checkCondition(SenseKey.NO_SENSE, 0).sense!, need(5) ? c[4]! : 0));
      case Op.INQUIRY:
        return need(6) ? this.inquiry(c) : bad();
      case Op.READ_CAPACITY_10: {
        const out = new Uint8Array(8);
        const last = this.blocks - 1n;
        new DataView(out.buffer).setUint32(0, last > 0xffff_ffffn ? 0xffff_ffff : Number(last)); // >: use (16)
        new DataView(out.buffer).setUint32(4, SECTOR_SIZE);
        return ok(out);
      }
      case Op.SERVICE_ACTION_IN_16: {
        if (!need(14) || (c[1]! & 0x1f) !== SAI_READ_CAPACITY_16) return checkCondition(SenseKey.ILLEGAL_REQUEST, Asc.INVALID_OPCODE);
        const out = new Uint8Array(32);
        new DataView(out.buffer).setBigUint64(0, this.blocks - 1n);
        new DataView(out.buffer).setUint32(8, SECTOR_SIZE);
        return ok(clip(out, dv.getUint32(10)));
      }
      case Op.READ_10:
        return need(10) ? this.io(cmd, false, BigInt(dv.getUint32(2)), dv.getUint16(7)) : bad();
      case Op.WRITE_10:
        return need(10) ? this.io(cmd, true, BigInt(dv.getUint32(2)), dv.getUint16(7)) : bad();
      case Op.READ_16:
        return need(16) ? this.io(cmd, false, dv.getBigUint64(2), dv.getUint32(10)) : bad();
      case Op.WRITE_16:
        return need(16) ? this.io(cmd, true, dv.getBigUint64(2), dv.getUint32(10)) : bad();
      case Op.SYNCHRONIZE_CACHE_10:
      case Op.SYNCHRONIZE_CACHE_16:
        return this.flush();
      case Op.MODE_SENSE_6:
        return need(6) ? this.modeSense(c, false) : bad();
      case Op.MODE_SENSE_10:
        return need(10) ? this.modeSense(c, true) : bad();
      default:
        return checkCondition(SenseKey.ILLEGAL_REQUEST, Asc.INVALID_OPCODE);
    }
  }

  private inquiry(c: Uint8Array): ScsiResult {
    const alloc = (c[3]! << 8) | c[4]!;
    if (c[1]! & 1) {
      // Vital product data: the supported pages, the serial number.
      const page = c[2]!;
      if (page === 0x00) return ok(clip(Uint8Array.of(0, 0x00, 0, 2, 0x00, 0x80), alloc));
      if (page === 0x80) {
        const serial = ascii(this.id.serial, this.id.serial.length);
        return ok(clip(Uint8Array.of(0, 0x80, 0, serial.length, ...serial), alloc));
      }
      return checkCondition(SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
    }
    if (c[2] !== 0) return checkCondition(SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
    const out = new Uint8Array(36);
    out[0] = 0x00; // connected direct-access block device
    out[2] = 0x05; // SPC-3
    out[3] = 0x02; // response data format 2
    out[4] = out.length - 5;
    out[7] = 0x02; // CmdQue
    out.set(ascii(this.id.vendor, 8), 8);
    out.set(ascii(this.id.product, 16), 16);
    out.set(ascii(this.id.revision, 4), 32);
    return ok(clip(out, alloc));
  }

  private modeSense(c: Uint8Array, ten: boolean): ScsiResult {
    const page = c[2]! & 0x3f;
    const alloc = ten ? (c[7]! << 8) | c[8]! : c[4]!;
    // The caching page (SBC-3 6.4.5): write cache enabled, as the disk's data
    // reaches the image only on flush (SYNCHRONIZE CACHE).
    const caching = Uint8Array.of(0x08, 0x12, 0x04, ...new Array<number>(0x12 - 1).fill(0));
    const pages = page === 0x08 || page === 0x3f ? caching : page === 0x00 ? new Uint8Array(0) : undefined;
    if (!pages) return checkCondition(SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
    const wp = this.disk.readOnly ? 0x80 : 0; // device-specific parameter: write protect
    const header = ten ? new Uint8Array(8) : new Uint8Array(4);
    if (ten) {
      new DataView(header.buffer).setUint16(0, header.length - 2 + pages.length);
      header[3] = wp;
    } else {
      header[0] = header.length - 1 + pages.length;
      header[2] = wp;
    }
    const out = new Uint8Array(header.length + pages.length);
    out.set(header);
    out.set(pages, header.length);
    return ok(clip(out, alloc));
  }

  private io(cmd: ScsiCommand, write: boolean, lba: bigint, blocks: number): ScsiResult {
    if (lba + BigInt(blocks) > this.blocks) return checkCondition(SenseKey.ILLEGAL_REQUEST, Asc.LBA_OUT_OF_RANGE);
    const bytes = blocks * SECTOR_SIZE;
    if (bytes > this.maxTransfer || bytes > cmd.bufferLength) return checkCondition(SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
    if (write && this.disk.readOnly) return checkCondition(SenseKey.DATA_PROTECT, Asc.WRITE_PROTECTED);
    const offset = Number(lba) * SECTOR_SIZE;
    try {
      if (write) {
        this.disk.write(offset, cmd.dataOut(bytes));
        this.stats.writes++;
        this.stats.bytesWritten += bytes;
        return ok(undefined, bytes);
      }
      const data = new Uint8Array(bytes);
      this.disk.read(offset, data);
      this.stats.reads++;
      this.stats.bytesRead += bytes;
      return ok(data);
    } catch (e) {
      if (!(e instanceof BlockError) && !isIoError(e)) throw e;
      return checkCondition(SenseKey.MEDIUM_ERROR, write ? Asc.WRITE_ERROR : Asc.UNRECOVERED_READ_ERROR);
    }
  }

  private flush(): ScsiResult {
    try {
      this.disk.flush();
      this.stats.flushes++;
      return ok();
    } catch (e) {
      if (!(e instanceof BlockError) && !isIoError(e)) throw e;
      return checkCondition(SenseKey.MEDIUM_ERROR, Asc.WRITE_ERROR);
    }
  }
}

/** A host I/O failure (EIO and the like from fs calls): the guest sees a medium error, the host goes on. */
const isIoError = (e: unknown): boolean => e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string';

const clip = (b: Uint8Array, alloc: number): Uint8Array => (b.length > alloc ? b.subarray(0, alloc) : b);

function ascii(s: string, n: number): Uint8Array {
  const out = new Uint8Array(n).fill(0x20);
  for (let i = 0; i < Math.min(n, s.length); i++) out[i] = s.charCodeAt(i) & 0x7f;
  return out;
}
