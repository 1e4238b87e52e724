// guests/bin/virtio_blk.elf on the whole machine: the bare-metal driver finds
// the disk in virtio-mmio slot 0, reads, writes and reads back, and prints
// exactly what it prints on qemu-system-riscv64 -M virt with the same image
// (the expected text below was captured from QEMU 7.2, legacy and modern
// virtio-mmio alike).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryFile } from '../../../../drivers/block/file.ts';
import { RawDevice } from '../../../../drivers/block/raw.ts';
import { parseElf } from '../../../../runtime/loader/elf.ts';
import { Machine } from '../../../../runtime/machine/machine.ts';

const ELF = join(import.meta.dirname, '../../../../guests/bin/virtio_blk.elf');

/** 64 KiB: a text line then bytes i & 0xff in sector 0, byte i = i * 7 after it. */
function testImage(): Uint8Array {
  const img = new Uint8Array(64 * 1024);
  const msg = new TextEncoder().encode('RVHV virtio-blk test disk\n');
  img.set(msg);
  for (let i = msg.length; i < 512; i++) img[i] = i & 0xff;
  for (let i = 512; i < img.length; i++) img[i] = (i * 7) & 0xff;
  return img;
}

const EXPECTED = `virtio-blk test
found a virtio-blk device
ok 1 init
capacity 128 sectors
ok 2 blk_size
ok 3 read sector 0
sector 0: 52 56 48 56 20 76 69 72 74 69 6f 2d 62 6c 6b 20
sector 0 fnv1a 3a51a3a2
ok 4 used-buffer interrupt
ok 5 used length
ok 6 write sector 1
ok 7 flush
ok 8 read sector 1
ok 9 sector 1 read back
sector 1 fnv1a 498ed5c5
ok 10 read past the end
ok 11 unknown request type
ok 12 device still healthy
PASSED all 12 checks
`;

describe('virtio_blk guest', () => {
  it('prints what it prints on QEMU and leaves sector 1 written', async () => {
    const file = new MemoryFile(testImage());
    let output = '';
    const machine = new Machine({
      ramSize: 16 << 20,
      harts: 1,
      clock: 'icount',
      onConsole: (b) => (output += Buffer.from(b).toString('latin1')),
      drives: [new RawDevice(file)],
    });
    const entry = machine.loadElf(parseElf(readFileSync(ELF)));
    machine.boot(entry, machine.placeDtb());
    const result = await machine.run({ maxInsns: 50_000_000 });
    expect(output).toBe(EXPECTED);
    expect(result).toMatchObject({ kind: 'exit', code: 0 });
    const sector1 = file.contents().subarray(512, 1024);
    expect(sector1.every((b, i) => b === ((i * 3 + 0x41) & 0xff))).toBe(true);
  });
});
