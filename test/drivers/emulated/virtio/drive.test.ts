// runtime/cli/drive.ts: -drive parsing and opening (kept with the virtio tests it feeds).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RawDevice } from '../../../../drivers/block/raw.ts';
import { createVhdFile } from '../../../../drivers/vhd/chain.ts';
import { InputError, UsageError } from '../../../../runtime/errors.ts';
import { openDrive, parseDrive } from '../../../../runtime/cli/drive.ts';

const dir = mkdtempSync(join(tmpdir(), 'drive-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseDrive', () => {
  it('parses QEMU -drive values', () => {
    expect(parseDrive('file=disk.img,format=raw,if=virtio')).toEqual({ path: 'disk.img', format: 'raw', readonly: false });
    expect(parseDrive('file=/a/b.vhd,format=vpc,if=virtio,readonly=on')).toEqual({ path: '/a/b.vhd', format: 'vpc', readonly: true });
    expect(parseDrive('if=virtio,readonly=off,file=x')).toEqual({ path: 'x', format: undefined, readonly: false });
    expect(parseDrive('file=x,readonly=yes').readonly).toBe(true);
    expect(parseDrive('file=a,,b.img,format=raw').path).toBe('a,b.img');
    expect(parseDrive('file=a=b').path).toBe('a=b');
  });

  it('rejects anything else with a UsageError', () => {
    for (const bad of [
      '',
      'disk.img',
      'format=raw',
      'file=',
      'file=x,format=qcow2',
      'file=x,if=ide',
      'file=x,if=none',
      'file=x,readonly=maybe',
      'file=x,cache=none',
      'file=x,file=y',
      'file=x,',
      '=x',
    ]) {
      expect(() => parseDrive(bad), bad).toThrow(UsageError);
    }
  });
});

describe('openDrive', () => {
  it('opens raw images read-write or read-only', () => {
    const path = join(dir, 'raw.img');
    writeFileSync(path, new Uint8Array(4096).fill(7));
    const rw = openDrive(parseDrive(`file=${path},format=raw,if=virtio`));
    expect(rw).toBeInstanceOf(RawDevice);
    expect(rw.size).toBe(4096);
    expect(rw.readOnly).toBe(false);
    rw.write(512, new Uint8Array(512).fill(1));
    rw.close();
    const ro = openDrive(parseDrive(`file=${path},format=raw,readonly=on`));
    expect(ro.readOnly).toBe(true);
    const buf = new Uint8Array(512);
    ro.read(512, buf);
    expect(buf[0]).toBe(1);
    ro.close();
  });

  it('opens VHDs as vpc, and probes the format when it is not given', () => {
    const path = join(dir, 'disk.vhd');
    createVhdFile(path, { size: 1 << 20, type: 'dynamic' });
    const vhd = openDrive(parseDrive(`file=${path},format=vpc`));
    expect(vhd.size).toBe(1 << 20);
    vhd.close();
    const probed = openDrive(parseDrive(`file=${path}`));
    expect(probed).not.toBeInstanceOf(RawDevice);
    expect(probed.size).toBe(1 << 20);
    probed.close();
  });

  it('raises InputError for missing files and bad images', () => {
    expect(() => openDrive({ path: join(dir, 'nope.img'), format: 'raw', readonly: false })).toThrow(InputError);
    const notVhd = join(dir, 'plain.img');
    writeFileSync(notVhd, new Uint8Array(2048));
    expect(() => openDrive({ path: notVhd, format: 'vpc', readonly: false })).toThrow(InputError);
  });
});
