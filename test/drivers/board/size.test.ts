import { describe, expect, it } from 'vitest';
import { formatSize, parseSize, SizeError } from '../../../drivers/board/size.ts';

const MiB = 2 ** 20;

describe('QEMU-style sizes', () => {
  it('reads a plain number as MiB', () => {
    expect(parseSize('512')).toBe(512 * MiB);
  });

  it('reads K, M, G and T suffixes in either case, with an optional B or iB', () => {
    expect(parseSize('128M')).toBe(128 * MiB);
    expect(parseSize('1g')).toBe(1024 * MiB);
    expect(parseSize('64K')).toBe(64 * 1024);
    expect(parseSize('2GiB')).toBe(2048 * MiB);
    expect(parseSize('1T')).toBe(2 ** 40);
    expect(parseSize('4096B')).toBe(4096);
  });

  it('accepts fractions that come to whole bytes', () => {
    expect(parseSize('1.5G')).toBe(1536 * MiB);
    expect(() => parseSize('0.3B')).toThrow(SizeError);
  });

  it('takes the unit of a bare number from the caller', () => {
    expect(parseSize('4096', 'B')).toBe(4096);
  });

  it('rejects junk with a SizeError', () => {
    for (const bad of ['', 'M', '12Q', '-1M', '1 2M', '0x10M']) expect(() => parseSize(bad)).toThrow(SizeError);
  });

  it('formats sizes with the largest exact unit', () => {
    expect(formatSize(128 * MiB)).toBe('128M');
    expect(formatSize(2 ** 30)).toBe('1G');
    expect(formatSize(1536 * 1024)).toBe('1536K');
    expect(formatSize(100)).toBe('100B');
  });
});
