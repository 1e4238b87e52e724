import { describe, expect, it } from 'vitest';
import { DmaError, RamGuestMemory } from '../../../../drivers/emulated/dma.ts';

const BASE = 0x8000_0000;

describe('RamGuestMemory', () => {
  it('reads and writes little-endian values inside RAM', () => {
    const backing = new Uint8Array(64);
    const ram = backing.subarray(8, 40); // a view with a byte offset
    const mem = new RamGuestMemory(ram, BASE);
    expect(mem.size).toBe(32);
    mem.setU16(BASE + 1, 0x1234);
    mem.setU32(BASE + 4, 0xdead_beef);
    mem.setU64(BASE + 8, 0x0102_0304_0506_0708n);
    mem.setU8(BASE + 31, 0xaa);
    expect(ram[1]).toBe(0x34);
    expect(ram[2]).toBe(0x12);
    expect(mem.u16(BASE + 1)).toBe(0x1234);
    expect(mem.u32(BASE + 4)).toBe(0xdead_beef);
    expect(mem.u64(BASE + 8)).toBe(0x0102_0304_0506_0708n);
    expect(mem.u8(BASE + 31)).toBe(0xaa);
    expect(backing[8 + 31]).toBe(0xaa);
    expect(backing[40]).toBe(0);
    mem.write(BASE + 16, Uint8Array.of(1, 2, 3));
    const copy = mem.read(BASE + 16, 3);
    const view = mem.view(BASE + 16, 3);
    expect([...copy]).toEqual([1, 2, 3]);
    ram[16] = 9;
    expect(copy[0]).toBe(1);
    expect(view[0]).toBe(9);
    expect(mem.read(BASE + 32, 0)).toHaveLength(0); // empty access at the end is fine
  });

  it('raises DmaError for anything outside RAM and never touches memory around it', () => {
    const backing = new Uint8Array(64);
    const mem = new RamGuestMemory(backing.subarray(16, 48), BASE);
    const bad: [number, number][] = [
      [BASE - 1, 1],
      [BASE + 32, 1],
      [BASE + 31, 2],
      [BASE + 28, 8],
      [0, 4],
      [-1, 4],
      [NaN, 1],
      [Infinity, 1],
      [BASE + 0.5, 1],
      [BASE, -1],
      [BASE, 33],
      [BASE, NaN],
      [2 ** 64, 1],
      [BASE, 2 ** 53],
    ];
    for (const [gpa, len] of bad) {
      expect(mem.contains(gpa, len)).toBe(false);
      expect(() => mem.read(gpa, len)).toThrow(DmaError);
      expect(() => mem.view(gpa, len)).toThrow(DmaError);
    }
    for (const gpa of [BASE - 1, BASE + 31, BASE + 32, -8, NaN]) {
      expect(() => mem.setU16(gpa, 0xffff)).toThrow(DmaError);
      expect(() => mem.setU64(gpa, -1n)).toThrow(DmaError);
      expect(() => mem.u32(gpa)).toThrow(DmaError);
    }
    expect(() => mem.write(BASE + 30, new Uint8Array(3).fill(0xff))).toThrow(DmaError);
    expect(backing.every((b) => b === 0)).toBe(true);
    const e = (() => {
      try {
        mem.u8(BASE + 32);
      } catch (err) {
        return err as DmaError;
      }
    })()!;
    expect(e.gpa).toBe(BASE + 32);
    expect(e.length).toBe(1);
    expect(e.message).toMatch(/0x80000020/);
  });
});
