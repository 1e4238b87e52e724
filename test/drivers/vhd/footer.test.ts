import { describe, expect, it } from 'vitest';
import { checksum } from '../../../drivers/vhd/bytes.ts';
import { VhdError } from '../../../drivers/vhd/errors.ts';
import { CREATOR_APP, DISK_DYNAMIC, DISK_FIXED, encodeFooter, newFooter, parseFooter, virtualSize } from '../../../drivers/vhd/footer.ts';
import { encodeHeader, newHeader, parseHeader } from '../../../drivers/vhd/header.ts';

describe('footer', () => {
  it('round-trips through its 512-byte encoding with a valid checksum', () => {
    const f = newFooter({ size: 10 * 1024 * 1024 + 1536, diskType: DISK_DYNAMIC, dataOffset: 512, timestamp: 12345 });
    const bytes = encodeFooter(f);
    expect(bytes.length).toBe(512);
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe('conectix');
    expect(checksum(bytes, 64)).toBe(new DataView(bytes.buffer).getUint32(64));
    const back = parseFooter(bytes, 't');
    expect(back).toMatchObject({ currentSize: f.currentSize, timestamp: 12345, creatorApp: CREATOR_APP, dataOffset: 512 });
    expect(back.uniqueId).toEqual(f.uniqueId);
  });

  it('stores all ones as the data offset of a fixed disk', () => {
    const bytes = encodeFooter(newFooter({ size: 4096, diskType: DISK_FIXED, dataOffset: -1 }));
    expect(Array.from(bytes.subarray(16, 24))).toEqual(new Array(8).fill(0xff));
  });

  it('is sized by current size for our creator and by CHS for Virtual PC and plain qemu', () => {
    const f = newFooter({ size: 10 * 1024 * 1024 + 1536, diskType: DISK_DYNAMIC, dataOffset: 512 });
    expect(virtualSize(f)).toBe(f.currentSize);
    const chs = f.geometry.cylinders * f.geometry.heads * f.geometry.sectorsPerTrack * 512;
    expect(chs).toBeLessThan(f.currentSize);
    expect(virtualSize({ ...f, creatorApp: 'vpc ' })).toBe(chs);
    expect(virtualSize({ ...f, creatorApp: 'qemu' })).toBe(chs);
    expect(virtualSize({ ...f, creatorApp: 'win ' })).toBe(f.currentSize);
    expect(virtualSize({ ...f, creatorApp: 'vpc ', geometry: { cylinders: 65535, heads: 16, sectorsPerTrack: 255 } })).toBe(f.currentSize);
  });

  it('rejects a wrong cookie or checksum with VhdError', () => {
    const bytes = encodeFooter(newFooter({ size: 4096, diskType: DISK_FIXED, dataOffset: -1 }));
    bytes[100] = 1;
    expect(() => parseFooter(bytes, 't')).toThrow(VhdError);
    bytes[0] = 0x43;
    expect(() => parseFooter(bytes, 't')).toThrow(/cookie/);
  });
});

describe('dynamic header', () => {
  it('round-trips parent fields and locators', () => {
    const h = newHeader({
      tableOffset: 1536,
      maxTableEntries: 5,
      blockSize: 2 * 1024 * 1024,
      parentUniqueId: new Uint8Array(16).fill(7),
      parentTimestamp: 99,
      parentName: '/väter/parent.vhd',
      locators: [{ platformCode: 0x57327275, dataSpace: 1, dataLength: 30, dataOffset: 2048 }],
    });
    const back = parseHeader(encodeHeader(h), 't');
    expect(back).toMatchObject({ tableOffset: 1536, maxTableEntries: 5, parentTimestamp: 99, parentName: '/väter/parent.vhd' });
    expect(back.locators[0]).toEqual({ platformCode: 0x57327275, dataSpace: 1, dataLength: 30, dataOffset: 2048 });
    expect(back.locators[1]!.platformCode).toBe(0);
  });

  it('rejects block sizes that are not powers of two', () => {
    const bytes = encodeHeader(newHeader({ tableOffset: 1536, maxTableEntries: 5, blockSize: 3 * 1024 * 1024 }));
    expect(() => parseHeader(bytes, 't')).toThrow(/power of two/);
  });
});
