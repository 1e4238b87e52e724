import { describe, expect, it } from 'vitest';
import { createVirtBoard } from '../../../../drivers/board/virt.ts';
import { regionBase } from '../../../../drivers/board/memmap.ts';
import { DeviceStateError } from '../../../../drivers/emulated/device.ts';
import { RamGuestMemory } from '../../../../drivers/emulated/dma.ts';
import {
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_SIZE_MAX,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  virtioBlkFactory,
} from '../../../../drivers/emulated/virtio/blk.ts';
import {
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  VIRTIO_F_ANY_LAYOUT,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  bit,
} from '../../../../drivers/emulated/virtio/device.ts';
import { VirtioMmio } from '../../../../drivers/emulated/virtio/mmio.ts';
import { VIRTQ_AVAIL_F_NO_INTERRUPT } from '../../../../drivers/emulated/virtio/virtqueue.ts';
import { VIRTIO_MAGIC, VIRTIO_VENDOR_QEMU } from '../../../../drivers/emulated/virtio_mmio_empty.ts';
import { R, RAM_BASE, RAM_SIZE, patternDisk, rig, type Rig } from './driver.ts';

/** The disk's pattern for `len` bytes from sector `s`. */
function pattern(s: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = ((s + (i >> 9)) * 7 + (i & 511)) & 0xff;
  return out;
}

/** Runs one request to completion; returns status byte, used entry and data buffer. */
function request(r: Rig, type: number, sector: number | bigint, data: number | Uint8Array, opts: { split?: number; indirect?: boolean } = {}) {
  const req = r.drv.blkRequest(type, sector, data, opts);
  const head = opts.indirect ? r.drv.indirectChain(req.bufs) : r.drv.chain(req.bufs);
  r.drv.offer(head);
  r.drv.kick();
  const used = r.drv.collect();
  return { status: r.drv.statusByte(req.status), used, head, data: r.drv.bytes(req.buf, req.len) };
}

describe('virtio-mmio transport (modern)', () => {
  it('identifies itself as a version 2 virtio-blk from QEMU', () => {
    const { dev } = rig();
    expect(dev.read(R.VIRTIO_MMIO_MAGIC_VALUE, 4)).toBe(VIRTIO_MAGIC);
    expect(dev.read(R.VIRTIO_MMIO_VERSION, 4)).toBe(2);
    expect(dev.read(R.VIRTIO_MMIO_DEVICE_ID, 4)).toBe(2);
    expect(dev.read(R.VIRTIO_MMIO_VENDOR_ID, 4)).toBe(VIRTIO_VENDOR_QEMU);
    expect(dev.read(R.VIRTIO_MMIO_MAGIC_VALUE, 2)).toBe(0); // registers are 32-bit only
    expect(dev.read(R.VIRTIO_MMIO_SHM_LEN_LOW, 4)).toBe(0xffff_ffff); // no shared memory regions
    expect(dev.size).toBe(0x1000);
  });

  it('offers VERSION_1, ring features and the block features; RO only for a read-only disk', () => {
    const f = rig().drv.deviceFeatures();
    for (const b of [VIRTIO_F_VERSION_1, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH]) {
      expect(f & bit(b)).toBe(bit(b));
    }
    expect(f & bit(VIRTIO_BLK_F_RO)).toBe(0n);
    expect(f & bit(VIRTIO_BLK_F_SIZE_MAX)).toBe(0n);
    expect(rig({ readOnly: true }).drv.deviceFeatures() & bit(VIRTIO_BLK_F_RO)).toBe(bit(VIRTIO_BLK_F_RO));
    expect(rig({ blk: { sizeMax: 65536 } }).drv.deviceFeatures() & bit(VIRTIO_BLK_F_SIZE_MAX)).toBe(bit(VIRTIO_BLK_F_SIZE_MAX));
    const plain = rig({ mmio: { indirect: false, eventIdx: false } }).drv.deviceFeatures();
    expect(plain & (bit(VIRTIO_F_INDIRECT_DESC) | bit(VIRTIO_F_EVENT_IDX))).toBe(0n);
  });

  it('accepts FEATURES_OK for any feature set, as QEMU 7.2 does: bits not offered are dropped, VERSION_1 is optional', () => {
    const { drv, dev } = rig();
    const all = drv.deviceFeatures();
    expect(drv.negotiate(all) & STATUS_FEATURES_OK).toBe(STATUS_FEATURES_OK);
    expect(dev.negotiatedFeatures).toBe(all);
    expect(drv.negotiate(bit(VIRTIO_F_VERSION_1)) & STATUS_FEATURES_OK).toBe(STATUS_FEATURES_OK);
    // No VERSION_1 on a modern transport (xv6-riscv's driver): accepted, as on QEMU.
    expect(drv.negotiate(bit(VIRTIO_BLK_F_FLUSH)) & STATUS_FEATURES_OK).toBe(STATUS_FEATURES_OK);
    expect(dev.negotiatedFeatures).toBe(bit(VIRTIO_BLK_F_FLUSH));
    // A bit the device does not offer: dropped, FEATURES_OK sticks.
    expect(drv.negotiate(all | bit(40n)) & STATUS_FEATURES_OK).toBe(STATUS_FEATURES_OK);
    expect(dev.negotiatedFeatures).toBe(all);
    // Once FEATURES_OK is set, DriverFeatures writes are ignored.
    drv.negotiate(bit(VIRTIO_F_VERSION_1));
    drv.writeFeatures(all);
    expect(dev.negotiatedFeatures).toBe(bit(VIRTIO_F_VERSION_1));
    expect(drv.status).toBe(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
  });

  it('serves a version 2 driver that never accepts VERSION_1 (as xv6-riscv does), as QEMU 7.2 does', () => {
    const r = rig();
    r.drv.init(8, 0n);
    expect(r.drv.status & STATUS_FEATURES_OK).toBe(STATUS_FEATURES_OK);
    const res = request(r, VIRTIO_BLK_T_IN, 3, 1024, { split: 512 });
    expect(res.status).toBe(VIRTIO_BLK_S_OK);
    expect(res.data).toEqual(pattern(3, 1024));
    expect(r.irq()).toBe(true);
    expect(r.dev.deviceNeedsReset).toBe(false);
  });

  it('exposes capacity, seg_max, blk_size and num_queues in the config space at 0x100', () => {
    const { dev } = rig({ sectors: 100 });
    expect(dev.read(0x100, 4)).toBe(100);
    expect(dev.read(0x104, 4)).toBe(0);
    expect(dev.read(0x10c, 4)).toBe(254); // seg_max: queue size - 2
    expect(dev.read(0x114, 4)).toBe(512);
    expect(dev.read(0x122, 2)).toBe(1);
    expect(dev.read(0x100, 1)).toBe(100);
    expect(dev.read(0x114, 2)).toBe(512);
    expect(dev.read(0x115, 1)).toBe(2);
    expect(dev.read(0x13c, 4)).toBe(0); // past the config space
    dev.write(0x100, 4, 12345); // read-only fields
    expect(dev.read(0x100, 4)).toBe(100);
    expect(dev.read(R.VIRTIO_MMIO_CONFIG_GENERATION, 4)).toBe(0);
  });

  it('reports queue 0 of size up to 256 and no other queues; QueueReady reads back', () => {
    const { dev, drv } = rig();
    drv.negotiate();
    expect(dev.read(R.VIRTIO_MMIO_QUEUE_NUM_MAX, 4)).toBe(256);
    dev.write(R.VIRTIO_MMIO_QUEUE_SEL, 4, 1);
    expect(dev.read(R.VIRTIO_MMIO_QUEUE_NUM_MAX, 4)).toBe(0);
    expect(dev.read(R.VIRTIO_MMIO_QUEUE_READY, 4)).toBe(0);
    drv.setupQueue(8);
    expect(dev.read(R.VIRTIO_MMIO_QUEUE_READY, 4)).toBe(1);
    dev.write(R.VIRTIO_MMIO_QUEUE_READY, 4, 0);
    expect(dev.read(R.VIRTIO_MMIO_QUEUE_READY, 4)).toBe(0);
    expect(dev.deviceNeedsReset).toBe(false);
  });

  it('raises the interrupt for a used buffer and lowers it on InterruptACK', () => {
    const r = rig();
    r.drv.init();
    expect(r.irq()).toBe(false);
    const { status } = request(r, VIRTIO_BLK_T_IN, 0, 512);
    expect(status).toBe(VIRTIO_BLK_S_OK);
    expect(r.irq()).toBe(true);
    expect(r.dev.read(R.VIRTIO_MMIO_INTERRUPT_STATUS, 4)).toBe(R.VIRTIO_MMIO_INT_VRING);
    r.dev.write(R.VIRTIO_MMIO_INTERRUPT_ACK, 4, 2); // the wrong bit: still pending
    expect(r.irq()).toBe(true);
    r.dev.write(R.VIRTIO_MMIO_INTERRUPT_ACK, 4, 1);
    expect(r.irq()).toBe(false);
    expect(r.dev.read(R.VIRTIO_MMIO_INTERRUPT_STATUS, 4)).toBe(0);
    // Driven at the reset, the used buffer and each ACK (each true is a PLIC request).
    expect(r.irqLog).toEqual([false, true, true, false]);
    expect(r.dev.metrics()).toMatchObject({ notifications: 1, interrupts: 1, chains: 1, deviceErrors: 0 });
  });

  it('respects VIRTQ_AVAIL_F_NO_INTERRUPT without EVENT_IDX', () => {
    const r = rig();
    r.drv.init(16, bit(VIRTIO_F_VERSION_1));
    r.drv.setAvailFlags(VIRTQ_AVAIL_F_NO_INTERRUPT);
    expect(request(r, VIRTIO_BLK_T_IN, 0, 512).status).toBe(VIRTIO_BLK_S_OK);
    expect(r.irq()).toBe(false);
    r.drv.setAvailFlags(0);
    request(r, VIRTIO_BLK_T_IN, 0, 512);
    expect(r.irq()).toBe(true);
  });

  it('with EVENT_IDX interrupts only when used idx passes used_event, and publishes avail_event', () => {
    const r = rig();
    r.drv.init(16);
    expect(r.dev.negotiatedFeatures & bit(VIRTIO_F_EVENT_IDX)).toBe(bit(VIRTIO_F_EVENT_IDX));
    r.drv.setUsedEvent(2); // interrupt once the entry with used index 2 is written (the third)
    request(r, VIRTIO_BLK_T_IN, 0, 512);
    expect(r.irq()).toBe(false);
    request(r, VIRTIO_BLK_T_IN, 1, 512);
    expect(r.irq()).toBe(false);
    expect(r.drv.availEvent()).toBe(2);
    request(r, VIRTIO_BLK_T_IN, 2, 512);
    expect(r.irq()).toBe(true);
    expect(r.drv.availEvent()).toBe(3);
  });

  it('serves buffers made available before DRIVER_OK once DRIVER_OK is set', () => {
    const r = rig();
    r.drv.negotiate();
    r.drv.setupQueue(8);
    const req = r.drv.blkRequest(VIRTIO_BLK_T_IN, 3, 512);
    r.drv.offer(r.drv.chain(req.bufs));
    r.drv.kick();
    expect(r.drv.usedIdx()).toBe(0);
    r.drv.driverOk();
    expect(r.drv.usedIdx()).toBe(1);
    expect(r.drv.bytes(req.buf, 512)).toEqual(pattern(3, 512));
  });

  it('resets on Status 0: features, queues, interrupts', () => {
    const r = rig();
    r.drv.init();
    request(r, VIRTIO_BLK_T_IN, 0, 512);
    r.dev.write(R.VIRTIO_MMIO_STATUS, 4, 0);
    expect(r.dev.read(R.VIRTIO_MMIO_STATUS, 4)).toBe(0);
    expect(r.dev.read(R.VIRTIO_MMIO_INTERRUPT_STATUS, 4)).toBe(0);
    expect(r.dev.read(R.VIRTIO_MMIO_QUEUE_READY, 4)).toBe(0);
    expect(r.dev.negotiatedFeatures).toBe(0n);
    expect(r.irq()).toBe(false);
  });

  it('bumps ConfigGeneration and sends a config interrupt on configChanged()', () => {
    const r = rig();
    r.drv.init();
    r.dev.configChanged();
    expect(r.dev.read(R.VIRTIO_MMIO_CONFIG_GENERATION, 4)).toBe(1);
    expect(r.dev.read(R.VIRTIO_MMIO_INTERRUPT_STATUS, 4)).toBe(R.VIRTIO_MMIO_INT_CONFIG);
    expect(r.dev.read(R.VIRTIO_MMIO_STATUS, 4) & 0x40).toBe(0);
  });
});

describe('virtio-blk requests', () => {
  it('reads sectors (single and split buffers, direct and indirect)', () => {
    for (const opts of [{}, { split: 512 }, { split: 100 }, { indirect: true }, { indirect: true, split: 512 }]) {
      const r = rig();
      r.drv.init(32); // 2048 / 100 -> 21 data buffers
      const res = request(r, VIRTIO_BLK_T_IN, 5, 2048, opts);
      expect(res.status).toBe(VIRTIO_BLK_S_OK);
      expect(res.data).toEqual(pattern(5, 2048));
      expect(res.used).toEqual([{ id: res.head, len: 2049 }]);
    }
  });

  it('writes sectors to the disk and reads them back', () => {
    const r = rig();
    r.drv.init();
    const data = new Uint8Array(1024).map((_, i) => (i * 13 + 1) & 0xff);
    const w = request(r, VIRTIO_BLK_T_OUT, 9, data, { split: 300 });
    expect(w.status).toBe(VIRTIO_BLK_S_OK);
    expect(w.used[0]!.len).toBe(1);
    expect(r.file.contents().subarray(9 * 512, 11 * 512)).toEqual(data);
    expect(r.file.contents().subarray(8 * 512, 9 * 512)).toEqual(pattern(8, 512));
    const back = request(r, VIRTIO_BLK_T_IN, 9, 1024);
    expect(back.data).toEqual(data);
    expect(r.blk.metrics()).toMatchObject({ requests: 2, reads: 1, writes: 1, bytesRead: 1024, bytesWritten: 1024, ioErrors: 0 });
  });

  it('flushes', () => {
    const r = rig();
    r.drv.init();
    let flushed = 0;
    const disk = r.blk.disk;
    const orig = disk.flush.bind(disk);
    disk.flush = () => {
      flushed++;
      orig();
    };
    const f = request(r, VIRTIO_BLK_T_FLUSH, 0, 0);
    expect(f.status).toBe(VIRTIO_BLK_S_OK);
    expect(flushed).toBe(1);
    expect(r.blk.metrics().flushes).toBe(1);
  });

  it('returns the serial for GET_ID (NUL-terminated when short, 20 bytes at most)', () => {
    const r = rig({ blk: { serial: 'disk-0' } });
    r.drv.init();
    const g = request(r, VIRTIO_BLK_T_GET_ID, 0, 20);
    expect(g.status).toBe(VIRTIO_BLK_S_OK);
    expect(new TextDecoder().decode(g.data.subarray(0, 7))).toBe('disk-0\0');
    const long = rig({ blk: { serial: 'x'.repeat(30) } });
    long.drv.init();
    const l = request(long, VIRTIO_BLK_T_GET_ID, 0, 32);
    expect(new TextDecoder().decode(l.data.subarray(0, 21))).toBe('x'.repeat(20) + '\0');
    expect(l.status).toBe(VIRTIO_BLK_S_OK);
  });

  it('completes bad requests with IOERR or UNSUPP and stays usable', () => {
    const r = rig({ sectors: 16 });
    r.drv.init();
    expect(request(r, VIRTIO_BLK_T_IN, 16, 512).status).toBe(VIRTIO_BLK_S_IOERR); // past the end
    expect(request(r, VIRTIO_BLK_T_IN, 15, 1024).status).toBe(VIRTIO_BLK_S_IOERR); // straddles the end
    expect(request(r, VIRTIO_BLK_T_IN, 2n ** 63n, 512).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(request(r, VIRTIO_BLK_T_IN, 0, 100).status).toBe(VIRTIO_BLK_S_IOERR); // not whole sectors
    expect(request(r, VIRTIO_BLK_T_OUT, 0, new Uint8Array(100)).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(request(r, 0x1234, 0, 512).status).toBe(VIRTIO_BLK_S_UNSUPP);
    expect(request(r, 11 /* DISCARD */, 0, 16).status).toBe(VIRTIO_BLK_S_UNSUPP);
    expect(request(r, VIRTIO_BLK_T_IN, 15, 512).status).toBe(VIRTIO_BLK_S_OK);
    expect(r.blk.metrics()).toMatchObject({ ioErrors: 5, unsupported: 2 });
    expect(r.dev.deviceNeedsReset).toBe(false);
  });

  it('refuses writes to a read-only disk with IOERR', () => {
    const r = rig({ readOnly: true });
    r.drv.init();
    expect(request(r, VIRTIO_BLK_T_OUT, 0, new Uint8Array(512)).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(r.file.contents().subarray(0, 512)).toEqual(pattern(0, 512));
    expect(request(r, VIRTIO_BLK_T_IN, 0, 512).status).toBe(VIRTIO_BLK_S_OK);
    expect(request(r, VIRTIO_BLK_T_FLUSH, 0, 0).status).toBe(VIRTIO_BLK_S_OK);
  });

  it('turns a host I/O failure into IOERR, not an exception', () => {
    const r = rig();
    r.drv.init();
    r.blk.disk.read = () => {
      throw new Error('EIO');
    };
    expect(request(r, VIRTIO_BLK_T_IN, 0, 512).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(r.blk.lastIoError).toContain('EIO');
    expect(r.dev.deviceNeedsReset).toBe(false);
  });

  it('serves a batch of requests in one notify and wraps the rings', () => {
    const r = rig();
    r.drv.init(4);
    const reqs: { buf: number; status: number; s: number }[] = [];
    for (let round = 0; round < 40; round++) {
      // One request per descriptor triple: at most one in flight with 4 descriptors.
      const s = round % 64;
      const req = r.drv.blkRequest(VIRTIO_BLK_T_IN, s, 512);
      r.drv.offer(r.drv.chain(req.bufs));
      r.drv.kick();
      reqs.push({ buf: req.buf, status: req.status, s });
      expect(r.drv.collect()).toHaveLength(1);
      expect(r.drv.bytes(req.buf, 512)).toEqual(pattern(s, 512));
    }
    // Several available chains served by a single notification.
    const r2 = rig();
    r2.drv.init(16);
    const batch = [0, 1, 2, 3, 4].map((s) => r2.drv.blkRequest(VIRTIO_BLK_T_IN, s, 512));
    for (const b of batch) r2.drv.offer(r2.drv.chain(b.bufs));
    r2.drv.kick();
    expect(r2.drv.collect()).toHaveLength(5);
    batch.forEach((b, s) => expect(r2.drv.bytes(b.buf, 512)).toEqual(pattern(s, 512)));
    expect(r2.dev.metrics().interrupts).toBe(1);
  });

  it('survives the 16-bit ring indices wrapping', () => {
    const r = rig();
    r.drv.init(8, bit(VIRTIO_F_VERSION_1));
    // Pretend 65534 chains went by: restore a snapshot with indices near the wrap.
    const snap = r.dev.save() as { queues: { lastAvail: number; usedIdx: number }[] };
    snap.queues[0]!.lastAvail = 65534;
    snap.queues[0]!.usedIdx = 65534;
    r.dev.restore(snap);
    r.drv.availIdx = 65534;
    r.drv.usedSeen = 65534;
    r.drv.setAvailIdx(65534);
    for (let i = 0; i < 5; i++) expect(request(r, VIRTIO_BLK_T_IN, i, 512).status).toBe(VIRTIO_BLK_S_OK);
    expect(r.drv.usedIdx()).toBe(3);
  });
});

describe('virtio-mmio legacy (version 1)', () => {
  it('negotiates 32-bit features without VERSION_1 and serves a PFN-addressed queue', () => {
    const r = rig({ mmio: { legacy: true } });
    r.drv.legacy = true;
    expect(r.dev.read(R.VIRTIO_MMIO_VERSION, 4)).toBe(1);
    const f = r.drv.deviceFeatures();
    expect(f >> 32n).toBe(0n);
    expect(f & bit(VIRTIO_F_ANY_LAYOUT)).toBe(bit(VIRTIO_F_ANY_LAYOUT));
    r.drv.negotiate(f);
    r.drv.setupLegacyQueue(16);
    expect(r.dev.read(R.VIRTIO_MMIO_QUEUE_PFN, 4)).toBe(DESC_PFN);
    expect(r.dev.read(R.VIRTIO_MMIO_QUEUE_READY, 4)).toBe(0); // not a legacy register
    r.drv.driverOk();
    const res = request(r, VIRTIO_BLK_T_IN, 7, 1024, { split: 512 });
    expect(res.status).toBe(VIRTIO_BLK_S_OK);
    expect(res.data).toEqual(pattern(7, 1024));
    expect(r.irq()).toBe(true);
    r.drv.ack();
    const w = request(r, VIRTIO_BLK_T_OUT, 1, new Uint8Array(512).fill(0x5a), { indirect: true });
    expect(w.status).toBe(VIRTIO_BLK_S_OK);
    expect(r.file.contents()[512]).toBe(0x5a);
    // QueuePFN 0 stops the queue.
    r.dev.write(R.VIRTIO_MMIO_QUEUE_PFN, 4, 0);
    expect(r.dev.read(R.VIRTIO_MMIO_QUEUE_PFN, 4)).toBe(0);
  });

  it('honours QueueAlign and GuestPageSize in the ring layout', () => {
    const r = rig({ mmio: { legacy: true } });
    r.drv.legacy = true;
    r.drv.negotiate(bit(VIRTIO_BLK_F_FLUSH));
    r.drv.setupLegacyQueue(8, (RAM_BASE + 0x8000) / 1024, 64, 1024);
    r.drv.driverOk();
    expect(request(r, VIRTIO_BLK_T_IN, 2, 512).data).toEqual(pattern(2, 512));
    expect(r.dev.deviceNeedsReset).toBe(false);
  });
});

const DESC_PFN = (RAM_BASE + 0x1000) / 4096;

describe('snapshots', () => {
  it('save/restore in the middle of use carries on where it stopped', () => {
    const a = rig();
    a.drv.init(8);
    request(a, VIRTIO_BLK_T_IN, 1, 512);
    const snap = JSON.parse(JSON.stringify(a.dev.save()));
    // A second device over a copy of guest RAM and the same disk contents.
    const b = rig({ ram: a.ram.slice() });
    b.dev.restore(snap);
    expect(b.dev.save()).toEqual(snap);
    b.drv.availIdx = a.drv.availIdx;
    b.drv.usedSeen = a.drv.usedSeen;
    b.drv.size = 8;
    expect(b.irq()).toBe(true); // the pending interrupt came across
    const res = request(b, VIRTIO_BLK_T_IN, 4, 512);
    expect(res.status).toBe(VIRTIO_BLK_S_OK);
    expect(res.data).toEqual(pattern(4, 512));
  });

  it('rejects snapshots of another device, disk size or transport version', () => {
    const snap = rig({ sectors: 64 }).dev.save();
    expect(() => rig({ sectors: 32 }).dev.restore(snap)).toThrow(DeviceStateError);
    expect(() => rig({ mmio: { legacy: true } }).dev.restore(snap)).toThrow(DeviceStateError);
    expect(() => rig().dev.restore({ ...snap, deviceId: 1 })).toThrow(DeviceStateError);
    expect(() => rig().dev.restore({ ...snap, queues: [] })).toThrow(DeviceStateError);
    expect(() => rig().dev.restore({})).toThrow(DeviceStateError);
  });

  it('rejects a snapshot of another virtio-blk state version, naming the field', () => {
    const snap = rig({ sectors: 64 }).dev.save();
    expect(() => rig({ sectors: 64 }).dev.restore({ ...snap, deviceVersion: 2 })).toThrow(/'deviceVersion': blk state version 2, this model reads version 1/);
  });

  it('rejects a snapshot whose enabled ring lies outside this RAM', () => {
    const a = rig();
    a.drv.init(8);
    const snap = a.dev.save() as { queues: { addr: number[] }[] };
    snap.queues[0]!.addr[0] = 0x1000; // desc low word: below RAM
    const b = rig();
    expect(() => b.dev.restore(snap)).toThrow(DeviceStateError);
    expect(b.dev.read(R.VIRTIO_MMIO_STATUS, 4)).toBe(0); // unchanged
  });
});

describe('virtioBlkFactory on the virt board', () => {
  it('plugs a virtio-blk into slot 0, wired to PLIC source 1', () => {
    const ram = new Uint8Array(RAM_SIZE);
    const { disk } = patternDisk(8);
    const board = createVirtBoard({
      harts: 1,
      externalIrq: () => {},
      clock: { nowNs: () => 0n },
      virtio: [virtioBlkFactory(disk, new RamGuestMemory(ram, RAM_BASE))],
    });
    const base = regionBase('virtio', 0);
    expect(board.virtio[0]).toBeInstanceOf(VirtioMmio);
    expect(board.bus.read(base + R.VIRTIO_MMIO_DEVICE_ID, 4)).toBe(2);
    expect(board.bus.read(base + 0x100, 4)).toBe(8);
    expect(board.bus.read(regionBase('virtio', 1) + R.VIRTIO_MMIO_DEVICE_ID, 4)).toBe(0);
    // Force a config interrupt: a notify for a queue that is not ready.
    board.bus.write(base + R.VIRTIO_MMIO_STATUS, 4, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
    board.bus.write(base + R.VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0);
    expect(board.plic.isPending(1)).toBe(true);
    board.bus.write(base + R.VIRTIO_MMIO_INTERRUPT_ACK, 4, 3);
    expect(board.bus.read(base + R.VIRTIO_MMIO_INTERRUPT_STATUS, 4)).toBe(0);
    // The PLIC keeps the forwarded request until it is claimed; once
    // completed with the line low, nothing is pending any more.
    const claim = regionBase('plic') + 0x20_0000 + 4; // context 0 (hart 0, M) claim/complete
    board.bus.write(regionBase('plic') + 4 * 1, 4, 1); // priority of source 1
    board.bus.write(regionBase('plic') + 0x2000, 4, 1 << 1); // enable source 1 for context 0
    expect(board.bus.read(claim, 4)).toBe(1);
    board.bus.write(claim, 4, 1);
    expect(board.plic.isPending(1)).toBe(false);
  });
});
