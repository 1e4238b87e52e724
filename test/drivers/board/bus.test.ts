import { describe, expect, it } from 'vitest';
import { BusConfigError, BusError, MmioBus } from '../../../drivers/board/bus.ts';
import type { AccessSize, MmioDevice } from '../../../drivers/emulated/device.ts';

/** A device that records its accesses and reads back base-relative offsets. */
class Probe implements MmioDevice {
  readonly stateVersion = 1;
  readonly log: string[] = [];
  constructor(
    readonly name: string,
    readonly size: number,
  ) {}
  read(offset: number, size: AccessSize): number {
    this.log.push(`r${size}@${offset}`);
    return 0xa000_0000 + offset;
  }
  write(offset: number, size: AccessSize, value: number): void {
    this.log.push(`w${size}@${offset}=${value.toString(16)}`);
  }
  reset(): void {
    this.log.push('reset');
  }
  save(): object {
    return {};
  }
  restore(): void {}
}

function bus() {
  const b = new MmioBus();
  const a = new Probe('a', 0x100);
  const c = new Probe('c', 0x1000);
  b.map(0x1000_0000, a);
  b.map(0x1000_1000, c);
  return { b, a, c };
}

describe('MMIO bus', () => {
  it('dispatches an access to the device whose range holds it, with a device-relative offset', () => {
    const { b, a, c } = bus();
    expect(b.read(0x1000_0004, 4)).toBe(0xa000_0004);
    b.write(0x1000_1ffc, 4, 0x1234);
    expect(a.log).toEqual(['r4@4']);
    expect(c.log).toEqual(['w4@4092=1234']);
  });

  it('raises BusError for an address no device covers', () => {
    const { b } = bus();
    for (const addr of [0, 0x1000_0100, 0x0fff_ffff, 0x1000_2000, -4, 2 ** 60]) {
      expect(() => b.read(addr, 4)).toThrow(BusError);
    }
    try {
      b.write(0x1000_0100, 1, 0);
    } catch (e) {
      expect(e).toBeInstanceOf(BusError);
      expect(e).toMatchObject({ reason: 'unmapped', addr: 0x1000_0100, size: 1, write: true });
      expect((e as Error).message).toBe('write of 1 byte(s) at 0x10000100: unmapped');
    }
    expect(b.unmapped).toBe(7);
  });

  it('raises BusError for an access that runs past the end of a device', () => {
    const b = new MmioBus();
    b.map(0x100, new Probe('small', 6));
    expect(() => b.read(0x104, 4)).toThrow(BusError);
    expect(b.read(0x104, 2)).toBe(0x0004); // masked to 16 bits
  });

  it('raises BusError for a misaligned access and for an impossible size', () => {
    const { b } = bus();
    expect(() => b.read(0x1000_0002, 4)).toThrow(/misaligned/);
    expect(() => b.write(0x1000_0001, 2, 0)).toThrow(/misaligned/);
    expect(() => b.read(0x1000_0000, 3 as AccessSize)).toThrow(/bad-size/);
    expect(b.read(0x1000_0003, 1)).toBe(0x03);
  });

  it('masks values to the access size in both directions', () => {
    const b = new MmioBus();
    const dev = new Probe('p', 0x10);
    b.map(0, dev);
    expect(b.read(0, 1)).toBe(0x00);
    expect(b.read(2, 2)).toBe(0x0002);
    b.write(0, 1, 0x1ff);
    b.write(0, 4, -1);
    expect(dev.log.slice(-2)).toEqual(['w1@0=ff', 'w4@0=ffffffff']);
  });

  it('splits an 8-byte access into two 4-byte ones, low word first', () => {
    const { b, c } = bus();
    expect(b.read64(0x1000_1008)).toBe((0xa000_000cn << 32n) | 0xa000_0008n);
    b.write64(0x1000_1010, 0x1122_3344_5566_7788n);
    expect(c.log).toEqual(['r4@8', 'r4@12', 'w4@16=55667788', 'w4@20=11223344']);
    expect(() => b.read64(0x1000_1004)).toThrow(/misaligned/);
  });

  it('counts accesses per device, one per guest access', () => {
    const { b } = bus();
    b.read(0x1000_0000, 1);
    b.write(0x1000_0000, 1, 0);
    b.write(0x1000_0000, 1, 0);
    b.read64(0x1000_1000);
    expect(b.stats().map((s) => [s.name, s.reads, s.writes])).toEqual([
      ['a', 1, 2],
      ['c', 1, 0],
    ]);
    b.resetStats();
    expect(b.stats().every((s) => s.reads === 0 && s.writes === 0)).toBe(true);
  });

  it('refuses overlapping mappings', () => {
    const { b } = bus();
    expect(() => b.map(0x1000_00f0, new Probe('x', 0x20))).toThrow(BusConfigError);
    expect(() => b.map(0x0fff_ff00, new Probe('x', 0x200))).toThrow(BusConfigError);
    expect(() => b.map(0x0fff_ff00, new Probe('x', 0x100))).not.toThrow();
  });

  it('places devices at memmap regions and refuses kernel regions', () => {
    const b = new MmioBus();
    b.mapRegion('uart0', new Probe('uart0', 0x100));
    b.mapRegion('virtio', new Probe('v3', 0x1000), 3);
    expect(b.deviceAt(0x1000_0000)!.name).toBe('uart0');
    expect(b.deviceAt(0x1000_4000)!.name).toBe('v3');
    expect(() => b.mapRegion('clint', new Probe('clint', 0x1_0000))).toThrow(/kernel/);
    expect(() => b.mapRegion('virtio', new Probe('v9', 0x1000), 8)).toThrow(BusConfigError);
    expect(() => b.mapRegion('test', new Probe('big', 0x2000))).toThrow(/does not fit/);
  });

  it('resets every device on a board reset', () => {
    const { b, a, c } = bus();
    b.resetDevices();
    expect([a.log, c.log]).toEqual([['reset'], ['reset']]);
  });
});
