// virtio-balloon (drivers/emulated/virtio/balloon.ts) as a driver sees it
// over the virtio-mmio transport: inflate and deflate queues, the kept
// statistics buffer, free page reporting, the target as a config change.
import { describe, expect, it } from 'vitest';
import { DeviceStateError } from '../../../../drivers/emulated/device.ts';
import { RamGuestMemory } from '../../../../drivers/emulated/dma.ts';
import {
  Q_DEFLATE, Q_INFLATE, Q_REPORTING, Q_STATS, VIRTIO_BALLOON_F_DEFLATE_ON_OOM, VIRTIO_BALLOON_F_PAGE_REPORTING, VIRTIO_BALLOON_F_STATS_VQ,
  VirtioBalloon,
} from '../../../../drivers/emulated/virtio/balloon.ts';
import { bit } from '../../../../drivers/emulated/virtio/device.ts';
import { VirtioMmio } from '../../../../drivers/emulated/virtio/mmio.ts';
import { MockDriver, R, RAM_BASE, RAM_SIZE, type Rig } from './driver.ts';

/** The four queues' rings, apart from each other (the mock driver follows the last one set up). */
const QUEUES = [Q_INFLATE, Q_DEFLATE, Q_STATS, Q_REPORTING].map((q) => ({
  desc: RAM_BASE + 0x1_0000 + q * 0x2000,
  avail: RAM_BASE + 0x1_0800 + q * 0x2000,
  used: RAM_BASE + 0x1_1000 + q * 0x2000,
}));

function balloonRig() {
  const ram = new Uint8Array(RAM_SIZE);
  const inflated: number[] = [];
  let reclaims = 0;
  const balloon = new VirtioBalloon({
    inflate: (gpa) => {
      if (gpa < RAM_BASE || gpa >= RAM_BASE + RAM_SIZE || inflated.includes(gpa)) return false;
      inflated.push(gpa);
      return true;
    },
    reclaim: () => void reclaims++,
  });
  let level = false;
  const dev = new VirtioMmio(balloon, new RamGuestMemory(ram, RAM_BASE), { irq: (l) => (level = l) });
  const r = { ram, dv: new DataView(ram.buffer), dev, irqLog: [], irq: () => level } as unknown as Rig;
  const drv = (r.drv = new MockDriver(r));
  drv.negotiate();
  for (const q of [Q_INFLATE, Q_DEFLATE, Q_STATS, Q_REPORTING]) drv.setupQueue(8, q, QUEUES[q]);
  drv.driverOk();
  /** Makes queue `q` the mock driver's current one. */
  const use = (q: number) => Object.assign(drv, { ...QUEUES[q], availIdx: used[q]!.avail, usedSeen: used[q]!.seen });
  const used = QUEUES.map(() => ({ avail: 0, seen: 0 }));
  const save = (q: number) => (used[q] = { avail: drv.availIdx, seen: drv.usedSeen });
  /** Offers a buffer of `bytes` on queue `q` (device-writable if `write`), kicks; returns what came back. */
  const send = (q: number, bytes: Uint8Array, write = false) => {
    use(q);
    const addr = drv.alloc(bytes.length);
    drv.put(addr, bytes);
    drv.offer(drv.chain([{ addr, len: bytes.length, write }]));
    drv.kick(q);
    const back = drv.collect();
    save(q);
    return back;
  };
  const collect = (q: number) => {
    use(q);
    const back = drv.collect();
    save(q);
    return back;
  };
  return { balloon, dev, drv, inflated, reclaims: () => reclaims, send, collect, irq: () => level };
}

function pfns(...gpas: number[]): Uint8Array {
  const b = new Uint8Array(4 * gpas.length);
  gpas.forEach((g, i) => new DataView(b.buffer).setUint32(4 * i, g / 4096, true));
  return b;
}

describe('virtio-balloon', () => {
  it('offers the statistics queue, deflate-on-OOM and free page reporting, and no MUST_TELL_HOST', () => {
    const { drv } = balloonRig();
    const f = drv.deviceFeatures();
    expect(f & bit(VIRTIO_BALLOON_F_STATS_VQ)).not.toBe(0n);
    expect(f & bit(VIRTIO_BALLOON_F_DEFLATE_ON_OOM)).not.toBe(0n);
    expect(f & bit(VIRTIO_BALLOON_F_PAGE_REPORTING)).not.toBe(0n);
    expect(f & 1n).toBe(0n);
  });

  it('gives every inflated page to the host, refuses page numbers outside RAM, and only counts deflations', () => {
    const b = balloonRig();
    const page = (i: number) => RAM_BASE + 0x8_0000 + i * 4096;
    expect(b.send(Q_INFLATE, pfns(page(0), page(1), 0x1000, page(1)))).toHaveLength(1);
    expect(b.inflated).toEqual([page(0), page(1)]);
    expect(b.reclaims()).toBe(1);
    b.send(Q_DEFLATE, pfns(page(0)));
    expect(b.balloon.metrics()).toMatchObject({ inflated: 2, refused: 2, deflated: 1 });
  });

  it('keeps the statistics buffer until the host asks for fresh figures, then reads the next one', () => {
    const b = balloonRig();
    const stat = (tag: number, val: bigint) => {
      const s = new Uint8Array(10);
      const dv = new DataView(s.buffer);
      dv.setUint16(0, tag, true);
      dv.setBigUint64(2, val, true);
      return s;
    };
    const stats = (free: bigint) => new Uint8Array([...stat(4, free), ...stat(5, 128n << 20n), ...stat(99, 1n)]);
    expect(b.send(Q_STATS, stats(1000n))).toEqual([]); // kept: no used entry, no interrupt for it
    expect(b.balloon.guestStats).toEqual({ freeMemory: 1000, totalMemory: 128 << 20 });
    expect(b.balloon.requestStats()).toBe(true);
    expect(b.collect(Q_STATS)).toHaveLength(1); // the driver has its buffer back
    expect(b.balloon.requestStats()).toBe(false); // none kept now
    b.send(Q_STATS, stats(2000n));
    expect(b.balloon.guestStats.freeMemory).toBe(2000);
  });

  it('gives back every whole page of a reported free range and returns the buffer unwritten', () => {
    const b = balloonRig();
    const back = b.send(Q_REPORTING, new Uint8Array(3 * 4096 + 100), true);
    expect(back).toHaveLength(1);
    expect(back[0]!.len).toBe(0);
    expect(b.balloon.metrics().reported).toBe(3);
    expect(b.inflated).toHaveLength(3);
  });

  it('tells the driver a new target with a configuration interrupt, and reads the actual size it writes', () => {
    const b = balloonRig();
    b.balloon.setTarget(256);
    b.dev.configChanged();
    expect(b.irq()).toBe(true);
    expect(b.dev.read(R.VIRTIO_MMIO_CONFIG, 4)).toBe(256);
    b.dev.write(R.VIRTIO_MMIO_CONFIG + 4, 4, 200);
    expect(b.balloon.actual).toBe(200);
    expect(() => b.balloon.setTarget(-1)).toThrow(RangeError);
  });

  it('saves target, actual and the kept statistics buffer, and refuses a record naming no descriptor', () => {
    const b = balloonRig();
    b.balloon.setTarget(64);
    b.send(Q_STATS, new Uint8Array(10));
    const state = b.balloon.save();
    const c = balloonRig();
    c.balloon.restore(state);
    expect(c.balloon.target).toBe(64);
    expect(c.balloon.requestStats()).toBe(true);
    expect(() => c.balloon.restore({ ...state, statsHead: 4096 })).toThrow(DeviceStateError);
    expect(() => c.balloon.restore({ ...state, reportingQueue: 7 })).toThrow(DeviceStateError);
  });
});
