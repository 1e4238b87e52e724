// Malformed driver behaviour: every case must leave the device in
// DEVICE_NEEDS_RESET with a configuration-change interrupt, never throw out
// of read()/write(), stop serving the queue until a reset, and work again
// after the driver resets it.
import { describe, expect, it } from 'vitest';
import { VIRTIO_BLK_S_OK, VIRTIO_BLK_T_IN } from '../../../../drivers/emulated/virtio/blk.ts';
import { STATUS_DEVICE_NEEDS_RESET, VIRTIO_F_VERSION_1, bit } from '../../../../drivers/emulated/virtio/device.ts';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '../../../../drivers/emulated/virtio/virtqueue.ts';
import { AVAIL, BUFFERS, DESC, R, RAM_BASE, RAM_SIZE, USED, rig, type Rig } from './driver.ts';

function expectNeedsReset(r: Rig, why?: RegExp): void {
  expect(r.dev.read(R.VIRTIO_MMIO_STATUS, 4) & STATUS_DEVICE_NEEDS_RESET).toBe(STATUS_DEVICE_NEEDS_RESET);
  expect(r.dev.read(R.VIRTIO_MMIO_INTERRUPT_STATUS, 4) & R.VIRTIO_MMIO_INT_CONFIG).toBe(R.VIRTIO_MMIO_INT_CONFIG);
  expect(r.irq()).toBe(true);
  expect(r.dev.deviceNeedsReset).toBe(true);
  expect(r.dev.metrics().deviceErrors).toBeGreaterThan(0);
  if (why) expect(r.dev.metrics().lastError).toMatch(why);
}

/** After the error: notifies do nothing; a reset and a fresh bring-up work again. */
function expectRecovers(r: Rig, legacy = false): void {
  const before = r.drv.usedIdx();
  expect(() => r.drv.kick()).not.toThrow();
  expect(r.drv.usedIdx()).toBe(before);
  // The driver may not clear NEEDS_RESET by writing Status other than 0.
  r.dev.write(R.VIRTIO_MMIO_STATUS, 4, 0x0f);
  expect(r.dev.read(R.VIRTIO_MMIO_STATUS, 4) & STATUS_DEVICE_NEEDS_RESET).toBe(STATUS_DEVICE_NEEDS_RESET);

  r.dev.write(R.VIRTIO_MMIO_STATUS, 4, 0);
  expect(r.dev.read(R.VIRTIO_MMIO_STATUS, 4)).toBe(0);
  expect(r.irq()).toBe(false);
  r.drv.availIdx = 0;
  r.drv.usedSeen = 0;
  r.ram.fill(0, DESC - RAM_BASE, BUFFERS - RAM_BASE);
  if (legacy) {
    r.drv.negotiate(0n);
    r.drv.setupLegacyQueue(16);
  } else {
    r.drv.negotiate();
    r.drv.setupQueue(16);
  }
  r.drv.driverOk();
  const req = r.drv.blkRequest(VIRTIO_BLK_T_IN, 0, 512);
  r.drv.offer(r.drv.chain(req.bufs));
  r.drv.kick();
  expect(r.drv.statusByte(req.status)).toBe(VIRTIO_BLK_S_OK);
  expect(r.dev.deviceNeedsReset).toBe(false);
}

function ready(opts: Parameters<typeof rig>[0] = {}, size = 16): Rig {
  const r = rig(opts);
  r.drv.init(size);
  return r;
}

/** A minimal well-formed IN request's buffers (header, 512 data, status). */
function bufs(r: Rig) {
  return r.drv.blkRequest(VIRTIO_BLK_T_IN, 0, 512);
}

describe('malformed descriptors and rings -> DEVICE_NEEDS_RESET', () => {
  it('head descriptor index out of range', () => {
    const r = ready();
    r.drv.offer(16);
    expect(() => r.drv.kick()).not.toThrow();
    expectNeedsReset(r, /descriptor index 16 out of range/);
    expectRecovers(r);
  });

  it('next index out of range', () => {
    const r = ready();
    const b = bufs(r);
    r.drv.setDesc(0, { addr: b.hdr, len: 16, flags: VIRTQ_DESC_F_NEXT, next: 200 });
    r.drv.offer(0);
    r.drv.kick();
    expectNeedsReset(r, /next index 200/);
    expectRecovers(r);
  });

  it('a chain that loops', () => {
    const r = ready();
    const b = bufs(r);
    r.drv.setDesc(0, { addr: b.hdr, len: 16, flags: VIRTQ_DESC_F_NEXT, next: 1 });
    r.drv.setDesc(1, { addr: b.buf, len: 512, flags: VIRTQ_DESC_F_NEXT, next: 0 });
    r.drv.offer(0);
    r.drv.kick();
    expectNeedsReset(r, /longer than the queue/);
    expectRecovers(r);
  });

  it('a descriptor that points at itself', () => {
    const r = ready();
    r.drv.setDesc(3, { addr: BUFFERS, len: 16, flags: VIRTQ_DESC_F_NEXT, next: 3 });
    r.drv.offer(3);
    r.drv.kick();
    expectNeedsReset(r, /loop/);
    expectRecovers(r);
  });

  it('a loop inside an indirect table', () => {
    const r = ready();
    const table = r.drv.alloc(32);
    r.drv.setDesc(0, { addr: BUFFERS, len: 16, flags: VIRTQ_DESC_F_NEXT, next: 1 }, table);
    r.drv.setDesc(1, { addr: BUFFERS, len: 16, flags: VIRTQ_DESC_F_NEXT, next: 0 }, table);
    r.drv.setDesc(0, { addr: table, len: 32, flags: VIRTQ_DESC_F_INDIRECT });
    r.drv.offer(0);
    r.drv.kick();
    expectNeedsReset(r, /indirect table/);
    expectRecovers(r);
  });

  it('nested indirect tables, INDIRECT with NEXT, bad indirect lengths, unnegotiated INDIRECT', () => {
    const cases: [string, (r: Rig) => void, RegExp][] = [
      [
        'nested',
        (r) => {
          const inner = r.drv.alloc(16);
          const outer = r.drv.alloc(16);
          r.drv.setDesc(0, { addr: inner, len: 16, flags: VIRTQ_DESC_F_INDIRECT }, outer);
          r.drv.setDesc(0, { addr: outer, len: 16, flags: VIRTQ_DESC_F_INDIRECT });
        },
        /inside an indirect table/,
      ],
      [
        'with NEXT',
        (r) => r.drv.setDesc(0, { addr: r.drv.alloc(16), len: 16, flags: VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, next: 1 }),
        /VIRTQ_DESC_F_NEXT/,
      ],
      ['length 0', (r) => r.drv.setDesc(0, { addr: r.drv.alloc(16), len: 0, flags: VIRTQ_DESC_F_INDIRECT }), /multiple of 16/],
      ['length 24', (r) => r.drv.setDesc(0, { addr: r.drv.alloc(32), len: 24, flags: VIRTQ_DESC_F_INDIRECT }), /multiple of 16/],
      ['outside RAM', (r) => r.drv.setDesc(0, { addr: RAM_BASE + RAM_SIZE - 16, len: 32, flags: VIRTQ_DESC_F_INDIRECT }), /outside guest RAM/],
    ];
    for (const [name, setup, why] of cases) {
      const r = ready();
      setup(r);
      r.drv.offer(0);
      r.drv.kick();
      expectNeedsReset(r, why);
      expect(name).toBeTruthy();
      expectRecovers(r);
    }
    // INDIRECT used although the driver did not accept VIRTIO_F_INDIRECT_DESC.
    const r = rig();
    r.drv.init(16, bit(VIRTIO_F_VERSION_1));
    r.drv.offer(r.drv.indirectChain(bufs(r).bufs));
    r.drv.kick();
    expectNeedsReset(r, /without VIRTIO_F_INDIRECT_DESC/);
    expectRecovers(r);
  });

  it('a device-readable buffer after a device-writable one', () => {
    const r = ready();
    const b = bufs(r);
    r.drv.offer(r.drv.chain([b.bufs[0]!, { addr: b.buf, len: 512, write: true }, { addr: b.status, len: 1 }]));
    r.drv.kick();
    expectNeedsReset(r, /readable buffer after a device-writable/);
    expectRecovers(r);
  });

  it('the available index running more than a queue ahead', () => {
    const r = ready();
    r.drv.offer(r.drv.chain(bufs(r).bufs));
    r.drv.setAvailIdx(17);
    r.drv.kick();
    expectNeedsReset(r, /ahead/);
    expectRecovers(r);
  });

  it('more buffers in one chain than the device takes', () => {
    const r = ready({}, 256);
    const table = r.drv.alloc(16 * 1100);
    for (let i = 0; i < 1100; i++) {
      r.drv.setDesc(i, { addr: BUFFERS, len: 16, flags: i < 1099 ? VIRTQ_DESC_F_NEXT : 0, next: i + 1 }, table);
    }
    r.drv.setDesc(0, { addr: table, len: 16 * 1100, flags: VIRTQ_DESC_F_INDIRECT });
    r.drv.offer(0);
    r.drv.kick();
    expectNeedsReset(r, /more than 1024 buffers/);
    expectRecovers(r);
  });

  it('virtio-blk requests without a header or without a status byte', () => {
    for (const make of [
      (r: Rig) => [{ addr: BUFFERS, len: 8 }, { addr: BUFFERS + 64, len: 1, write: true }],
      (r: Rig) => [{ addr: BUFFERS, len: 16 }, { addr: BUFFERS + 64, len: 512 }],
      (r: Rig) => [{ addr: BUFFERS, len: 0 }, { addr: BUFFERS + 64, len: 0, write: true }],
    ]) {
      const r = ready();
      r.drv.offer(r.drv.chain(make(r)));
      r.drv.kick();
      expectNeedsReset(r, /lacks a header or status/);
      expectRecovers(r);
    }
  });
});

describe('DMA outside guest RAM -> DEVICE_NEEDS_RESET', () => {
  const outside: [string, number, number][] = [
    ['below RAM', 0x1000, 512],
    ['MMIO space', 0x1000_1000, 16],
    ['past the end', RAM_BASE + RAM_SIZE, 512],
    ['straddling the end', RAM_BASE + RAM_SIZE - 256, 512],
    ['at 2^63', 2 ** 63, 512],
    ['at 2^64 - 16', 2 ** 64 - 16, 16],
    ['wrapping 2^64', 0xffff_ffff_ffff_f000, 0x2000],
  ];
  for (const [name, addr, len] of outside) {
    it(`data buffer ${name}`, () => {
      const r = ready();
      const b = bufs(r);
      r.drv.offer(r.drv.chain([b.bufs[0]!, { addr, len, write: true }, b.bufs[2]!]));
      const before = Buffer.from(r.ram);
      r.drv.kick();
      expectNeedsReset(r, /outside guest RAM/);
      // Nothing was written anywhere (not even the status byte or the used ring).
      expect(Buffer.compare(Buffer.from(r.ram), before)).toBe(0);
      expectRecovers(r);
    });
  }

  it('a header outside RAM (device-readable)', () => {
    const r = ready();
    const b = bufs(r);
    r.drv.offer(r.drv.chain([{ addr: RAM_BASE - 8, len: 16 }, b.bufs[1]!, b.bufs[2]!]));
    r.drv.kick();
    expectNeedsReset(r, /outside guest RAM/);
    expectRecovers(r);
  });

  it('rings outside RAM or misaligned at QueueReady', () => {
    const cases: [{ desc?: number; avail?: number; used?: number }, RegExp][] = [
      [{ desc: 0 }, /descriptor table at 0x0 .* outside guest RAM/],
      [{ desc: RAM_BASE + RAM_SIZE - 16 * 8 }, /descriptor table .* outside/],
      [{ avail: RAM_BASE + RAM_SIZE - 8 }, /driver area .* outside/],
      [{ used: RAM_BASE + RAM_SIZE }, /device area .* outside/],
      [{ used: 2 ** 40 }, /device area .* outside/],
      [{ desc: DESC + 8 }, /not 16-byte aligned/],
      [{ avail: AVAIL + 1 }, /not 2-byte aligned/],
      [{ used: USED + 2 }, /not 4-byte aligned/],
    ];
    for (const [where, why] of cases) {
      const r = rig();
      r.drv.negotiate();
      expect(() => r.drv.setupQueue(16, 0, where)).not.toThrow();
      expect(r.dev.read(R.VIRTIO_MMIO_QUEUE_READY, 4)).toBe(0);
      expectNeedsReset(r, why);
      expectRecovers(r);
    }
  });
});

describe('bad queue programming -> DEVICE_NEEDS_RESET', () => {
  for (const size of [0, 3, 12, 255, 512, 65535]) {
    it(`queue size ${size}`, () => {
      const r = rig();
      r.drv.negotiate();
      r.drv.setupQueue(size);
      expectNeedsReset(r, size > 256 && (size & (size - 1)) === 0 ? /exceeds the maximum 256/ : /not a power of two|exceeds/);
      expectRecovers(r);
    });
  }

  it('notify of a queue that is not ready', () => {
    const r = rig();
    r.drv.negotiate();
    r.drv.driverOk();
    r.drv.kick(0);
    expectNeedsReset(r, /queue 0, which is not ready/);
    expectRecovers(r);
  });

  it('notify of a queue that does not exist', () => {
    const r = ready();
    r.drv.kick(5);
    expectNeedsReset(r, /queue 5, which does not exist/);
    expectRecovers(r);
    r.drv.kick(0xffff_ffff);
    expectNeedsReset(r, /queue 65535/);
  });

  it('QueueReady for a queue that does not exist', () => {
    const r = rig();
    r.drv.negotiate();
    r.drv.setupQueue(16, 3);
    expectNeedsReset(r, /queue 3, which does not exist/);
    expectRecovers(r);
  });

  it('legacy: QueuePFN outside RAM, bad GuestPageSize or QueueAlign, nonexistent queue', () => {
    const cases: [(r: Rig) => void, RegExp][] = [
      [(r) => r.drv.setupLegacyQueue(16, 0x10), /outside guest RAM/],
      [(r) => r.drv.setupLegacyQueue(16, 0xffff_ffff), /outside guest RAM/],
      [(r) => r.drv.setupLegacyQueue(16, DESC / 4096, 4096, 3000), /GuestPageSize 3000/],
      [(r) => r.drv.setupLegacyQueue(16, DESC / 4096, 0, 4096), /QueueAlign 0/],
      [(r) => r.drv.setupLegacyQueue(17), /power of two/],
      [
        (r) => {
          r.dev.write(R.VIRTIO_MMIO_QUEUE_SEL, 4, 1);
          r.dev.write(R.VIRTIO_MMIO_QUEUE_PFN, 4, DESC / 4096);
        },
        /queue 1, which does not exist/,
      ],
    ];
    for (const [setup, why] of cases) {
      const r = rig({ mmio: { legacy: true } });
      r.drv.legacy = true;
      r.drv.negotiate(0n);
      setup(r);
      expectNeedsReset(r, why);
      expectRecovers(r, true);
    }
  });
});

describe('hostile guests', () => {
  it('never makes read() or write() throw, whatever is in RAM and the registers', () => {
    let s = 0x1234_5678;
    const next = () => {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      return s;
    };
    const regs = [0x14, 0x20, 0x24, 0x30, 0x38, 0x44, 0x50, 0x64, 0x70, 0x80, 0x84, 0x90, 0x94, 0xa0, 0xa4, 0x100];
    for (let round = 0; round < 200; round++) {
      const r = rig({ sectors: 8 });
      r.drv.init(round % 2 ? 8 : 256);
      // Garbage descriptors, avail ring and requests...
      const dv = r.dv;
      for (let i = 0; i < 64; i++) {
        const o = DESC - RAM_BASE + 16 * (next() % 32);
        const inRam = RAM_BASE + (next() % RAM_SIZE);
        dv.setUint32(o, next() & 1 ? inRam >>> 0 : next(), true);
        dv.setUint32(o + 4, next() & 3 ? 0 : next(), true);
        dv.setUint32(o + 8, next() % 4096, true);
        dv.setUint16(o + 12, next() & 7, true);
        dv.setUint16(o + 14, next() % 40, true);
      }
      for (let i = 0; i < 8; i++) dv.setUint16(AVAIL - RAM_BASE + 4 + 2 * i, next() % 40, true);
      dv.setUint16(AVAIL - RAM_BASE + 2, next() % 12, true);
      expect(() => {
        for (let i = 0; i < 50; i++) {
          const off = regs[next() % regs.length]!;
          r.dev.write(off, 4, off === 0x50 ? next() % 3 : next());
          r.dev.read(off, 4);
          if (next() % 4 === 0) r.drv.kick();
        }
      }).not.toThrow();
    }
  });
});
