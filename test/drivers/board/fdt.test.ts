import { describe, expect, it } from 'vitest';
import { FDT_MAGIC, FdtError, FdtNode, parseFdt, writeFdt } from '../../../drivers/board/fdt.ts';

function header(blob: Uint8Array) {
  const v = new DataView(blob.buffer, blob.byteOffset);
  return {
    magic: v.getUint32(0),
    totalsize: v.getUint32(4),
    offStruct: v.getUint32(8),
    offStrings: v.getUint32(12),
    offRsv: v.getUint32(16),
    version: v.getUint32(20),
    lastComp: v.getUint32(24),
    bootCpuid: v.getUint32(28),
    sizeStrings: v.getUint32(32),
    sizeStruct: v.getUint32(36),
  };
}

describe('FDT writer', () => {
  it('writes a v17 header whose blocks tile the blob', () => {
    const root = new FdtNode('');
    root.u32('#address-cells', 2);
    const blob = writeFdt(root, { bootCpuid: 3 });
    const h = header(blob);
    expect(h).toMatchObject({ magic: FDT_MAGIC, totalsize: blob.length, version: 17, lastComp: 16, bootCpuid: 3, offRsv: 40 });
    expect(h.offRsv % 8).toBe(0);
    expect(h.offStruct % 4).toBe(0);
    expect(h.offStruct + h.sizeStruct).toBe(h.offStrings);
    expect(h.offStrings + h.sizeStrings).toBe(h.totalsize);
  });

  it('stores each property name once in the strings block', () => {
    const root = new FdtNode('');
    for (const n of ['a', 'b', 'c']) root.addNode(n).string('compatible', n).u32('reg', 1);
    const blob = writeFdt(root);
    const h = header(blob);
    const strings = new TextDecoder().decode(blob.subarray(h.offStrings, h.offStrings + h.sizeStrings));
    expect(strings).toBe('compatible\0reg\0');
  });

  it('round-trips nodes and every property type through the reader', () => {
    const root = new FdtNode('');
    const a = root.addNode('a@1000');
    a.u32('cells', 1, 0xffff_ffff).u64('big', 0x1_2345_6789n, 7).string('s', 'hello').strings('list', ['x', 'yz']);
    a.bytes('raw', Uint8Array.of(1, 2, 3)).empty('flag');
    a.addNode('child').string('name2', 'deep');
    const { root: back } = parseFdt(writeFdt(root));
    const b = back.find('/a@1000')!;
    expect(b.getCells('cells')).toEqual([1, 0xffff_ffff]);
    expect(b.getCells('big')).toEqual([1, 0x2345_6789, 0, 7]);
    expect(b.getString('s')).toBe('hello');
    expect(b.getStrings('list')).toEqual(['x', 'yz']);
    expect(Array.from(b.value('raw')!)).toEqual([1, 2, 3]);
    expect(b.value('flag')!.length).toBe(0);
    expect(back.find('/a@1000/child')!.getString('name2')).toBe('deep');
    expect([...back.walk()].map(([p]) => p)).toEqual(['/', '/a@1000', '/a@1000/child']);
  });

  it('writes the memory reservation block, terminated by an empty entry', () => {
    const root = new FdtNode('');
    const rsv = [{ address: 0x8000_0000n, size: 0x20_0000n }];
    const parsed = parseFdt(writeFdt(root, { reservations: rsv }));
    expect(parsed.reservations).toEqual(rsv);
    expect(parseFdt(writeFdt(root)).reservations).toEqual([]);
  });

  it('turns a node used as a cell into its phandle, numbering unassigned ones after the highest', () => {
    const root = new FdtNode('');
    const intc = root.addNode('intc');
    const other = root.addNode('other').setPhandle(5);
    root.addNode('dev').u32('interrupt-parent', intc).u32('pair', other, 9);
    const { root: back } = parseFdt(writeFdt(root));
    expect(back.find('/intc')!.getU32('phandle')).toBe(6);
    expect(back.find('/dev')!.getCells('interrupt-parent')).toEqual([6]);
    expect(back.find('/dev')!.getCells('pair')).toEqual([5, 9]);
  });

  it('rejects invalid names and values', () => {
    const root = new FdtNode('');
    expect(() => root.addNode('bad name')).toThrow(FdtError);
    expect(() => root.addNode('x'.repeat(32))).toThrow(FdtError);
    expect(() => root.u32('p', -1)).toThrow(FdtError);
    expect(() => root.u32('p', 1.5)).toThrow(FdtError);
    expect(() => root.string('p', 'a\0b')).toThrow(FdtError);
    expect(() => root.u32('with space', 1)).toThrow(FdtError);
    root.addNode('dup');
    expect(() => root.addNode('dup')).toThrow(FdtError);
    expect(() => writeFdt(new FdtNode('notroot'))).toThrow(FdtError);
  });
});

describe('FDT reader', () => {
  it('rejects a blob that is not a DTB or is cut short', () => {
    expect(() => parseFdt(new Uint8Array(10))).toThrow(FdtError);
    expect(() => parseFdt(new Uint8Array(64))).toThrow(/magic/);
    const root = new FdtNode('');
    root.addNode('n').string('p', 'v');
    const blob = writeFdt(root);
    expect(() => parseFdt(blob.subarray(0, blob.length - 8))).toThrow(FdtError);
  });

  it('rejects a struct block with a bad token', () => {
    const blob = writeFdt(new FdtNode(''));
    const h = header(blob);
    new DataView(blob.buffer).setUint32(h.offStruct, 0x77);
    expect(() => parseFdt(blob)).toThrow(/bad token/);
  });
});
