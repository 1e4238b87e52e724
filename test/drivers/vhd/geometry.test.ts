import { describe, expect, it } from 'vitest';
import { chsForSectors, chsSectors, isMaxGeometry, MAX_CHS_SECTORS } from '../../../drivers/vhd/geometry.ts';

describe('CHS geometry', () => {
  it('uses 17 sectors a track and at least 4 heads for small disks', () => {
    expect(chsForSectors(20536)).toEqual({ cylinders: 302, heads: 4, sectorsPerTrack: 17 });
  });

  it('moves to 31 and then 63 sectors a track as disks grow', () => {
    expect(chsForSectors(17 * 16 * 1024 + 1000).sectorsPerTrack).toBe(31);
    expect(chsForSectors(1 << 22)).toEqual({ cylinders: 4161, heads: 16, sectorsPerTrack: 63 });
  });

  it('uses 255 sectors a track and 16 heads past 65535 x 16 x 63 sectors', () => {
    expect(chsForSectors(65535 * 16 * 63)).toEqual({ cylinders: 65535 * 63 / 255 | 0, heads: 16, sectorsPerTrack: 255 });
  });

  it('caps at the maximum geometry', () => {
    const g = chsForSectors(MAX_CHS_SECTORS * 4);
    expect(g).toEqual({ cylinders: 65535, heads: 16, sectorsPerTrack: 255 });
    expect(isMaxGeometry(g)).toBe(true);
  });

  it('never describes more sectors than asked for', () => {
    for (const n of [1, 100, 4095, 20480, 1 << 20, 123456789, 300_000_000]) {
      expect(chsSectors(chsForSectors(n))).toBeLessThanOrEqual(n);
    }
  });
});
