// A reset the guest asks for reboots its partition, as QEMU does: devices
// reset, images loaded again from their files, harts back at the reset
// vector, RAM kept; -no-reboot (VM config "reboot": false) ends the run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { code, elf, rv } from '../support/rv.ts';

const [T0, T1, T2, T3, T4, T5] = [5, 6, 7, 28, 29, 30];

/**
 * Counts its boots in a RAM word the image does not cover (RAM survives a
 * reset): boots before the `boots`th ask the test finisher for a reset
 * (0x7777), that one exits with status = the count (0x3333 | count << 16).
 */
const counter = (boots: number) => elf(
  code([
    rv.auipc(T0, 0x10), // t0 = 0x8001_0000, past the image
    rv.ld(T1, T0, 0),
    rv.addi(T1, T1, 1),
    rv.sd(T1, T0, 0),
    rv.lui(T2, 0x100), // t2 = the finisher
    rv.addi(T3, 0, boots),
    rv.beq(T1, T3, 20), // the last boot: to the exit below
    rv.lui(T4, 7),
    rv.addi(T4, T4, 0x777),
    rv.sw(T4, T2, 0), // reset
    rv.jal(0, 0),
    rv.slli(T4, T1, 16),
    rv.lui(T5, 3),
    rv.addi(T5, T5, 0x333),
    rv.add(T4, T4, T5),
    rv.sw(T4, T2, 0), // exit with the boot count
    rv.jal(0, 0),
  ]),
);
const twoBoots = counter(2);

function hv(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/hv.js', 'run', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stderr: r.stderr };
}

describe('a reset the guest asks for', () => {
  let guest: string;
  beforeAll(() => {
    guest = join(mkdtempSync(join(tmpdir(), 'hv-reboot-')), 'two-boots.elf');
    writeFileSync(guest, twoBoots);
  });

  it.each([[[]], [['--pcpus', '1']], [['--deterministic']], [['--deterministic', '--pcpus', '2']], [['--paging', 'shadow']]])(
    'reboots the partition, which then finds its RAM as it left it (%j)',
    (mode) => {
      const r = hv(...mode, '--timeout', '30', guest);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(2); // the second boot's count
    },
  );

  it.each([[['--pcpus', '2']], [['--pcpus', '1', '--paging', 'shadow']]])(
    'reboots 40 times in a row without losing a vCPU on the way (%j)',
    (mode) => {
      // Each reboot takes the vCPUs off the scheduler while their pCPU may be
      // blocking the one that exited: a removal racing that block once left
      // the vCPU blocked for good and the reboot waiting for ever.
      const dir = mkdtempSync(join(tmpdir(), 'hv-reboot-'));
      const path = join(dir, 'forty.elf');
      writeFileSync(path, counter(40));
      const r = hv(...mode, '--timeout', '60', path);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(40);
    },
  );

  it('ends the run with status 0 under -no-reboot', () => {
    const r = hv('-no-reboot', guest);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/requested a reset/);
  });

  it('ends the run with status 0 when the VM config says "reboot": false', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hv-reboot-'));
    const config = join(dir, 'vm.json');
    writeFileSync(config, JSON.stringify({ partitions: [{ kernel: guest, reboot: false }] }));
    expect(hv('--config', config).code).toBe(0);
  });
});
