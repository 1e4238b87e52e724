// Save files that cannot be restored: each is refused with one line naming
// what is wrong (the section, record or field) and exit status 2, never a
// stack trace, and never a partition restored in part.
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseContainer, writeContainer } from '../../../runtime/persist/container.ts';
import { PersistError } from '../../../runtime/persist/errors.ts';
import { readSave, restorePartition } from '../../../runtime/persist/partition.ts';
import { decodeRecords, encodeRecords, type StateRecord } from '../../../runtime/persist/record.ts';
import { Hypervisor } from '../../../runtime/host/hypervisor.ts';
import { hv } from '../../support/save.ts';

let dir: string;
let good: string;
let disk: string;
let diskSave: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hv-badsave-'));
  good = join(dir, 'good.hvs');
  expect(hv('run', 'guests/bin/interrupts.elf', '--save', good, '--save-after-insns', '5000').code).toBe(0);
  disk = join(dir, 'disk.img');
  writeFileSync(disk, new Uint8Array(64 * 1024));
  diskSave = join(dir, 'disk.hvs');
  const r = hv('run', '-m', '16M', '-drive', `file=${disk},format=raw,if=virtio`, 'guests/bin/virtio_blk.elf', '--save', diskSave, '--save-after-insns', '9000');
  expect(r.code).toBe(0);
});

/** `hv restore` of `bytes`: exit 2 with one line on stderr (returned). */
function refused(bytes: Uint8Array, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const r = hv('restore', path);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.split('\n')).toHaveLength(2); // one line and its newline
  expect(r.stderr).toMatch(/^hv restore: /);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return r.stderr;
}

/** The save file with its STAT records changed by `edit`. */
function withRecords(edit: (records: StateRecord[]) => void): Buffer {
  const sections = parseContainer(readFileSync(good));
  const stat = sections.get('STAT')!;
  const records = decodeRecords(inflateRawSync(stat.payload), 'STAT');
  edit(records);
  const out = join(dir, 'edited.tmp');
  writeContainer(out, [sections.get('META')!, { ...stat, payload: deflateRawSync(encodeRecords(records)) }, sections.get('MEM ')!]);
  return readFileSync(out);
}

function json(r: StateRecord): Record<string, unknown> {
  return JSON.parse(Buffer.from(r.body).toString()) as Record<string, unknown>;
}

describe('hv restore refuses', () => {
  it('a file that is not a save file', () => {
    expect(refused(Buffer.from('hello, world\n'), 'text.hvs')).toMatch(/not an hv save file \(bad magic\)/);
  });

  it('a truncated file, wherever it is cut', () => {
    const b = readFileSync(good);
    expect(refused(b.subarray(0, 12), 'cut-head.hvs')).toMatch(/bad magic|truncated/);
    expect(refused(b.subarray(0, b.length >> 1), 'cut-half.hvs')).toMatch(/section "(STAT|MEM )": truncated/);
    expect(refused(b.subarray(0, b.length - 24), 'cut-end.hvs')).toMatch(/section 3: truncated \(header missing\)/);
    expect(refused(Buffer.concat([b.subarray(0, 12), Buffer.from([3, 0, 0, 0]), b.subarray(16, b.length - 24)]), 'no-end.hvs')).toMatch(/truncated \(no END section\)/);
  });

  it('a corrupt byte, naming the section whose checksum fails', () => {
    const b = Buffer.from(readFileSync(good));
    b[b.length - 40]! ^= 0x55; // inside the memory section
    expect(refused(b, 'flip.hvs')).toMatch(/section "MEM ": checksum mismatch/);
  });

  it('a file of another format version', () => {
    const b = Buffer.from(readFileSync(good));
    b.writeUInt32LE(7, 8);
    expect(refused(b, 'v7.hvs')).toMatch(/format version 7, this hv reads version 1/);
  });

  it('a device record of another version, naming the record', () => {
    const b = withRecords((rs) => {
      rs.find((r) => r.kind === 'dev.uart0')!.version = 2;
    });
    expect(refused(b, 'uart-v2.hvs')).toMatch(/dev\.uart0: record version 2, this hv reads version 1/);
  });

  it('a device field out of range, naming the field', () => {
    const b = withRecords((rs) => {
      const r = rs.find((x) => x.kind === 'dev.plic')!;
      r.body = Buffer.from(JSON.stringify({ ...json(r), threshold: [99, 0] }));
    });
    expect(refused(b, 'plic.hvs')).toMatch(/plic: snapshot field 'threshold'/);
  });

  it('a vCPU record of another hart, naming the field', () => {
    const b = withRecords((rs) => {
      const v = rs.find((x) => x.kind === 'vcpu0')!;
      rs.push({ ...v, kind: 'vcpu1' });
    });
    expect(refused(b, 'vcpus.hvs')).toMatch(/vcpu1: the partition has 1 vCPUs/);
  });

  it('a disk image that changed since the save', () => {
    appendFileSync(disk, new Uint8Array(512));
    const r = hv('restore', diskSave);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^hv restore: disk 0: image '.*disk\.img' changed since the save \(size 66048, saved 65536\)/);
  });
});

describe('a restore that fails', () => {
  it('writes nothing into the new partition: RAM and vCPUs stay as created', () => {
    const bad = join(dir, 'late-bad.hvs');
    // The PLIC's record is checked last of all: everything before it was fine.
    writeFileSync(bad, withRecords((rs) => {
      const r = rs.find((x) => x.kind === 'dev.plic')!;
      r.body = Buffer.from(JSON.stringify({ ...json(r), pending: 'lots' }));
    }));
    const save = readSave(bad);
    const h = new Hypervisor(save.spec.memory);
    expect(() => restorePartition(save, h, { onConsole: () => {}, clock: 'icount' })).toThrow(PersistError);
    const ram = new Uint8Array(h.memory.buffer, h.kernel.layout.framePool, save.spec.memory);
    expect(ram.every((b) => b === 0)).toBe(true);
    const vcpu0 = new DataView(h.memory.buffer, 0x20_0000, h.kernel.layout.vcpuSize);
    expect(vcpu0.getBigUint64(h.kernel.layout.off.PC!, true)).toBe(0x8000_0000n);
    expect(vcpu0.getBigUint64(h.kernel.layout.off.INSTRET!, true)).toBe(0n);
  });
});

describe('save and restore command lines that make no sense', () => {
  it.each([
    [['run', '--save', 'x.hvs', 'guests/bin/hello.elf', 'guests/bin/rv64m.elf'], /--save saves one guest/],
    [['run', '--save-after-insns', '5', 'guests/bin/hello.elf'], /--save-after-insns needs --save FILE/],
    [['run', '--deterministic', '--pcpus', '2', '--save', 'x.hvs', 'guests/bin/hello.elf'], /--pcpus N \(the kernel scheduler\) is not supported/],
    [['restore'], /give one save FILE/],
  ])('hv %j is a usage error', (args, message) => {
    const r = hv(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('hv restore --pcpus with a step limit is a usage error (steps are counted on the deterministic host)', () => {
    const r = hv('restore', '--pcpus', '2', '--max-insns', '9', good);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/count steps on the deterministic host/);
  });
});

describe('hv run --save', () => {
  it('to a directory that does not exist is one line and exit status 2', () => {
    const r = hv('run', 'guests/bin/interrupts.elf', '--save', join(dir, 'no', 'such', 'x.hvs'), '--save-after-insns', '1000');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^hv run: save file '.*x\.hvs': cannot be written: ENOENT\n$/);
  });
});
