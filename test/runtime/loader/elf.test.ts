import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ElfError, parseElf } from '../../../runtime/loader/elf.ts';
import { Machine } from '../../../runtime/machine/machine.ts';

const hello = readFileSync('guests/bin/hello.elf');

function patched(edit: (dv: DataView, b: Uint8Array) => void): Uint8Array {
  const b = Uint8Array.from(hello);
  edit(new DataView(b.buffer), b);
  return b;
}

/** Offset of the first PT_LOAD program header. */
function firstLoad(b: Uint8Array): number {
  const dv = new DataView(b.buffer, b.byteOffset);
  const phoff = Number(dv.getBigUint64(32, true));
  for (let i = 0; i < dv.getUint16(56, true); i++) {
    const ph = phoff + i * dv.getUint16(54, true);
    if (dv.getUint32(ph, true) === 1) return ph;
  }
  throw new Error('no PT_LOAD');
}

describe('ELF loader', () => {
  it('reads the entry point, loadable segments and the symbol table', () => {
    const img = parseElf(hello);
    expect(img.entry).toBe(0x8000_0000n);
    expect(img.segments.length).toBeGreaterThan(0);
    expect(img.symbols.size).toBeGreaterThan(0);
  });

  it.each([
    ['an empty file', new Uint8Array(0), /truncated ELF header/],
    ['a file without the ELF magic', new TextEncoder().encode('#!/bin/sh\necho hi\n'.padEnd(80)), /not an ELF file/],
    ['a 32-bit ELF', patched((_, b) => (b[4] = 1)), /32-bit ELF/],
    ['a big-endian ELF', patched((_, b) => (b[5] = 2)), /big-endian/],
    ['an ELF for another machine', patched((dv) => dv.setUint16(18, 62, true)), /not a RISC-V ELF \(e_machine 62\)/],
    ['a relocatable object', patched((dv) => dv.setUint16(16, 1, true)), /not an executable/],
    ['program headers past the end', patched((dv) => dv.setBigUint64(32, 1n << 40n, true)), /program headers run past the end/],
    ['a segment past the end of the file', patched((dv, b) => dv.setBigUint64(firstLoad(b) + 8, 1n << 40n, true)), /truncated: segment/],
    ['a file size larger than the memory size', patched((dv, b) => dv.setBigUint64(firstLoad(b) + 40, 1n, true)), /exceeds memory size/],
  ])('rejects %s with a typed error naming the problem', (_, bytes, message) => {
    expect(() => parseElf(bytes)).toThrow(ElfError);
    expect(() => parseElf(bytes)).toThrow(message);
  });

  it('rejects a file cut short in the middle of a segment', () => {
    expect(() => parseElf(hello.subarray(0, 200))).toThrow(ElfError);
  });

  it('rejects overlapping segments', () => {
    const b = Uint8Array.from(hello);
    const dv = new DataView(b.buffer);
    const ph = firstLoad(b);
    const phsize = dv.getUint16(54, true);
    // Duplicate the first PT_LOAD into the next header slot.
    b.copyWithin(ph + phsize, ph, ph + phsize);
    dv.setUint16(56, Math.max(dv.getUint16(56, true), 2), true);
    expect(() => parseElf(b)).toThrow(/segments overlap/);
  });

  it('refuses segments that fall outside guest RAM without touching memory', () => {
    const b = patched((dv, bytes) => dv.setBigUint64(firstLoad(bytes) + 24, 0x1000n, true));
    const m = new Machine({ ramSize: 1 << 20, harts: 1, onConsole: () => {} });
    expect(() => m.loadElf(parseElf(b))).toThrow(/outside RAM/);
    expect(m.ram.every((x) => x === 0)).toBe(true);
  });
});
