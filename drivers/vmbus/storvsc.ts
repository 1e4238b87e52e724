// Synthetic SCSI storage on VMBus: the host (VSP) side of the protocol
// Linux's drivers/scsi/storvsc_drv.c speaks, over one BlockDevice (raw or
// VHD, the same back ends as virtio-blk). One channel, one target, LUN 0.
//
//   guest (storvsc)                               here
//   BEGIN_INITIALIZATION ────────────────────────► COMPLETE_IO status 0
//   QUERY_PROTOCOL_VERSION 6.2, then 6.0, 5.1 ───► status 0 for one we speak
//   QUERY_PROPERTIES ────────────────────────────► max_transfer_bytes, no sub-channels
//   END_INITIALIZATION ──────────────────────────► status 0: ready
//   EXECUTE_SRB (inband, or GPA-direct with the ─► the CDB run on scsi-disk.ts, data
//     data buffer's guest pages)                   copied to/from those pages, COMPLETE_IO
//                                                  with SRB/SCSI status, sense, length
//
// Every packet asks for a completion (VMBUS_DATA_PACKET_FLAG_COMPLETION_
// REQUESTED) and gets it as a VM_PKT_COMP packet carrying a vstor_packet and
// the request's transaction id, which is how Linux matches it (trans_id).
// Layouts (all __packed, little-endian), checked against Linux 6.12:
//
//   struct vstor_packet (64 B)   operation u32 @0, flags u32 @4, status u32 @8, union @12 (0x34 B):
//   struct vmscsi_request @12    length u16 @0, srb_status u8 @2, scsi_status u8 @3, port @4,
//                                path_id @5, target_id @6, lun @7, cdb_length @8,
//                                sense_info_length @9, data_in @10 (0 write, 1 read, 2 none),
//                                reserved @11, data_transfer_length u32 @12, cdb[16] / sense[20] @16,
//                                win8 extension: reserve u16 @36, queue_tag @38, queue_action @39,
//                                srb_flags u32 @40, time_out_value u32 @44, queue_sort_ey u32 @48
//   struct vmstorage_protocol_version @12   major_minor u16 @0, revision u16 @2
//   struct vmstorage_channel_properties @12 reserved u32 @0, max_channel_cnt u16 @4,
//                                reserved1 u16 @6, flags u32 @8, max_transfer_bytes u32 @12
//
// A guest that breaks the protocol (a short packet, a packet type storvsc
// never sends, a data buffer outside its RAM) loses the channel
// (EndpointFault, logged); a bad SCSI command is only a CHECK CONDITION.
import type { BlockDevice } from '../block/device.ts';
import { DeviceStateError } from '../emulated/device.ts';
import { ChannelEndpoint, EndpointFault, type Packet } from './endpoint.ts';
import { type DataBuffer, gather, gpaDirectBuffer, scatter } from './gpa-direct.ts';
import { PacketType } from './ring.ts';
import { ScsiDisk, ScsiStatus } from './scsi-disk.ts';

/** The storage class GUID Linux's storvsc binds to (HV_SCSI_GUID). */
export const STORVSC_CLASS_ID = 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f';

export const VstorOp = {
  COMPLETE_IO: 1,
  REMOVE_DEVICE: 2,
  EXECUTE_SRB: 3,
  RESET_LUN: 4,
  RESET_ADAPTER: 5,
  RESET_BUS: 6,
  BEGIN_INITIALIZATION: 7,
  END_INITIALIZATION: 8,
  QUERY_PROTOCOL_VERSION: 9,
  QUERY_PROPERTIES: 10,
  ENUMERATE_BUS: 11,
  FCHBA_DATA: 12,
  CREATE_SUB_CHANNELS: 13,
} as const;

export const VSTOR_PACKET_SIZE = 64;
export const Vstor = { operation: 0, flags: 4, status: 8, body: 12 } as const;
/** vmscsi_request, from the start of the vstor_packet. */
export const Srb = {
  length: 12, srbStatus: 14, scsiStatus: 15, port: 16, pathId: 17, targetId: 18, lun: 19, cdbLength: 20,
  senseInfoLength: 21, dataIn: 22, dataTransferLength: 24, cdb: 28, srbFlags: 52, size: 52,
} as const;
export const Props = { maxChannelCnt: 16, flags: 20, maxTransferBytes: 24 } as const;
export const VERSION_MAJOR_MINOR = 12;

/** VMSTOR_PROTO_VERSION(major, minor): Linux tries WIN10 6.2, WIN8.1 6.0, WIN8 5.1. */
export const STORVSC_VERSIONS = [0x0602, 0x0600, 0x0501] as const;
export const SrbStatus = { SUCCESS: 0x01, ERROR: 0x04, INVALID_REQUEST: 0x06, INVALID_LUN: 0x20, AUTOSENSE_VALID: 0x80 } as const;
export const DataIn = { WRITE: 0, READ: 1, UNKNOWN: 2 } as const;
/** STORVSC_MAX_CMD_LEN and STORVSC_SENSE_BUFFER_SIZE. */
const MAX_CDB = 16;
const SENSE_BUFFER = 20;
/** A failed vstor operation's status: an NT status (STATUS_UNSUCCESSFUL); Linux only tests status != 0. */
export const VSTOR_STATUS_FAILED = 0xc000_0001;
/** The largest data buffer of one SRB we announce (QUERY_PROPERTIES) and take. */
export const MAX_TRANSFER = 512 << 10;

export interface StorvscOptions {
  /** Instance GUID (if_instance); differs per disk of a partition. */
  instanceId: string;
  /** INQUIRY's unit serial number. */
  serial?: string;
}

type Phase = 'begin' | 'initializing' | 'ready';

export class StorvscDevice extends ChannelEndpoint {
  readonly classId = STORVSC_CLASS_ID;
  readonly instanceId: string;
  protected readonly maxReply = VSTOR_PACKET_SIZE;
  readonly scsi: ScsiDisk;
  private phase: Phase = 'begin';
  /** The version the guest settled on (major << 8 | minor), 0 before. */
  version = 0;

  constructor(
    /** The disk it serves (a thread that serves the channel for the root opens the same image: runtime/host/endpoint-server.ts). */
    readonly disk: BlockDevice,
    options: StorvscOptions,
  ) {
    super();
    this.instanceId = options.instanceId;
    const serial = options.serial ?? options.instanceId.replace(/-/g, '').slice(-16);
    this.scsi = new ScsiDisk(disk, { vendor: 'hv', product: 'Synthetic Disk', revision: '1.0', serial }, MAX_TRANSFER);
  }

  get ready(): boolean {
    return this.phase === 'ready';
  }

  // Persistence: where the protocol is (the requests are in guest RAM and
  // finish within the exit that signalled them: none is in flight here).
  readonly stateVersion = 1;

  save(): object {
    return { phase: this.phase, version: this.version, scsi: { ...this.scsi.stats } };
  }

  restore(state: object): void {
    const s = state as Record<string, unknown>;
    if (!['begin', 'initializing', 'ready'].includes(s.phase as string)) throw new DeviceStateError('vmbus.storvsc.phase: is not a protocol phase');
    if (s.version !== 0 && !(STORVSC_VERSIONS as readonly unknown[]).includes(s.version)) throw new DeviceStateError('vmbus.storvsc.version: is not a version we speak');
    this.phase = s.phase as Phase;
    this.version = s.version as number;
    const stats = s.scsi as Record<string, unknown> | null;
    for (const k of Object.keys(this.scsi.stats) as (keyof ScsiDisk['stats'])[]) {
      const v = stats?.[k];
      if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) this.scsi.stats[k] = v;
    }
  }

  protected override onOpen(): void {
    this.phase = 'begin';
    this.version = 0;
  }

  protected onPacket(p: Packet): void {
    if (p.type !== PacketType.DATA_INBAND && p.type !== PacketType.DATA_USING_GPA_DIRECT) {
      throw new EndpointFault(`storvsc: packet type ${p.type} (it takes inband and GPA-direct packets)`);
    }
    const body = p.raw.subarray(p.offset);
    if (body.length < VSTOR_PACKET_SIZE) throw new EndpointFault(`storvsc: vstor_packet of ${body.length} bytes (it is ${VSTOR_PACKET_SIZE})`);
    const req = new DataView(body.buffer, body.byteOffset, VSTOR_PACKET_SIZE);
    const op = req.getUint32(Vstor.operation, true);
    const reply = new Uint8Array(VSTOR_PACKET_SIZE);
    const out = new DataView(reply.buffer);
    out.setUint32(Vstor.operation, VstorOp.COMPLETE_IO, true);
    let status = 0;
    switch (op) {
      case VstorOp.BEGIN_INITIALIZATION:
        this.phase = 'initializing';
        break;
      case VstorOp.QUERY_PROTOCOL_VERSION: {
        const v = req.getUint16(VERSION_MAJOR_MINOR, true);
        if (this.phase === 'initializing' && (STORVSC_VERSIONS as readonly number[]).includes(v)) this.version = v;
        else status = VSTOR_STATUS_FAILED; // the guest tries its next older one
        out.setUint16(VERSION_MAJOR_MINOR, v, true);
        break;
      }
      case VstorOp.QUERY_PROPERTIES:
        if (this.phase !== 'initializing') status = VSTOR_STATUS_FAILED;
        out.setUint16(Props.maxChannelCnt, 0, true); // no sub-channels: one channel serves the disk
        out.setUint32(Props.flags, 0, true);
        out.setUint32(Props.maxTransferBytes, MAX_TRANSFER, true);
        break;
      case VstorOp.END_INITIALIZATION:
        if (this.phase !== 'initializing' || !this.version) status = VSTOR_STATUS_FAILED;
        else this.phase = 'ready';
        break;
      case VstorOp.EXECUTE_SRB:
        if (this.phase !== 'ready') status = VSTOR_STATUS_FAILED;
        else this.executeSrb(p, body, reply);
        break;
      default:
        status = VSTOR_STATUS_FAILED; // resets, sub-channels, FC: not offered
    }
    out.setUint32(Vstor.status, status, true);
    this.complete(p.transId, reply);
  }

  /** Runs the SRB's CDB; fills the reply's vmscsi_request (status, sense, length). */
  private executeSrb(p: Packet, body: Uint8Array, reply: Uint8Array): void {
    const req = new DataView(body.buffer, body.byteOffset, VSTOR_PACKET_SIZE);
    const out = new DataView(reply.buffer);
    reply.set(body.subarray(Srb.length, Srb.length + Srb.size), Srb.length); // echoes the request's fields
    const cdbLength = req.getUint8(Srb.cdbLength);
    if (cdbLength === 0 || cdbLength > MAX_CDB) throw new EndpointFault(`storvsc: SRB with a CDB of ${cdbLength} bytes`);
    const dataIn = req.getUint8(Srb.dataIn);
    const ctx = this.ctx!;
    const buf: DataBuffer =
      p.type === PacketType.DATA_USING_GPA_DIRECT ? gpaDirectBuffer(p.raw, p.offset, ctx.guest, MAX_TRANSFER) : { segments: [], length: 0 };
    const done = (srbStatus: number, scsiStatus: number, transferred: number) => {
      out.setUint8(Srb.srbStatus, srbStatus);
      out.setUint8(Srb.scsiStatus, scsiStatus);
      out.setUint32(Srb.dataTransferLength, transferred, true);
    };
    if (req.getUint8(Srb.pathId) !== 0 || req.getUint8(Srb.targetId) !== 0 || req.getUint8(Srb.lun) !== 0) {
      done(SrbStatus.INVALID_LUN, 0, 0);
      return;
    }
    const cdb = body.slice(Srb.cdb, Srb.cdb + cdbLength);
    const r = this.scsi.execute({
      cdb,
      bufferLength: dataIn === DataIn.WRITE ? buf.length : dataIn === DataIn.READ ? buf.length : 0,
      dataOut: (n) => {
        const data = new Uint8Array(n);
        gather(ctx.guest, buf, data);
        return data;
      },
    });
    let transferred = r.transferred;
    if (r.dataIn) {
      const n = dataIn === DataIn.READ ? Math.min(r.dataIn.length, buf.length) : 0;
      scatter(ctx.guest, buf, r.dataIn.subarray(0, n));
      transferred = n;
    }
    if (r.status === ScsiStatus.GOOD) {
      done(SrbStatus.SUCCESS, ScsiStatus.GOOD, transferred);
      out.setUint8(Srb.senseInfoLength, 0);
      return;
    }
    // Autosense: the sense data goes back in the cdb/sense union.
    const sense = r.sense!.subarray(0, SENSE_BUFFER);
    reply.fill(0, Srb.cdb, Srb.cdb + SENSE_BUFFER);
    reply.set(sense, Srb.cdb);
    out.setUint8(Srb.senseInfoLength, sense.length);
    done(SrbStatus.ERROR | SrbStatus.AUTOSENSE_VALID, r.status, 0);
  }
}

/** The instance GUID of a partition's `n`th synthetic disk: fixed, so a guest sees the same disk at every boot. */
export function storvscInstanceId(n: number): string {
  return `5cd3b6a1-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}
