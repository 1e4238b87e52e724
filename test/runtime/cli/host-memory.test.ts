// `hv run --host-memory SIZE` (docs/memory.md): a host memory cap. Overcommit
// partitions' RAM is demand-allocated, so partitions may hold more guest RAM
// than the host has; one whose fixed needs do not fit is refused with one
// line, and one that writes more than the host has is stopped alone.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { code, elf, rv } from '../../support/rv.ts';

function hv(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/hv.js', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const HELLO = 'guests/bin/hello.elf';
const [T0, T1, T2] = [5, 6, 7];

/** A guest that writes the first doubleword of every page of its 8 MiB of RAM, then passes. */
function writesAllRam(): Uint8Array {
  const la = (rd: number, off: number) => [rv.addi(rd, 0, 1), rv.slli(rd, rd, 31), rv.lui(T2, off >>> 12), rv.add(rd, rd, T2)];
  return elf(
    code([
      ...la(T0, 4096),
      ...la(T1, 8 << 20),
      rv.lui(T2, 1),
      rv.sd(T0, T0, 0),
      rv.add(T0, T0, T2),
      rv.bne(T0, T1, -8),
      rv.lui(T2, 0x100),
      rv.lui(T1, 5),
      rv.addi(T1, T1, 0x555),
      rv.sw(T1, T2, 0),
    ]),
  );
}

describe.each([[], ['--deterministic']])('hv run --host-memory %s', (...mode: string[]) => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hv-host-memory-'));
  });

  it('runs overcommit partitions whose RAM adds up to far more than the host memory', () => {
    const r = hv('run', ...mode, '--host-memory', '4M', '-m', '64M', '--paging', 'nested', '--overcommit', HELLO, HELLO);
    expect(r.stdout.split('\n').sort()).toEqual(['', '[hello#0] Hello from RISC-V guest!', '[hello#1] Hello from RISC-V guest!']);
    expect(r.code).toBe(0);
  });

  it('refuses, with one line and status 2, a partition whose reserved RAM does not fit', () => {
    const r = hv('run', ...mode, '--host-memory', '4M', '-m', '64M', '--paging', 'nested', HELLO);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^hv run: host memory exhausted: a partition of 64M \(nested paging\) needs 64\.\d MiB of host memory at once, the host has \d+\.\d MiB left\n$/);
  });

  it('stops a guest that writes more RAM than the host has with MemoryExhaustedError, status 1', () => {
    const big = join(dir, 'big.elf');
    writeFileSync(big, writesAllRam());
    const r = hv('run', ...mode, '--host-memory', '2M', '-m', '8M', '--paging', 'nested', '--overcommit', big);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^hv: guest stopped: MemoryExhaustedError: out of host memory: vCPU 0 wrote guest-physical 0x8[0-9a-f]{7}, which needs a host frame, and none is free or could be reclaimed\n$/);
  });
});

describe('hv run --host-memory, bad values', () => {
  it.each([
    ['a size below 1 MiB', ['--host-memory', '64K'], /^hv run: --host-memory: must be an integer 1048576\.\.\d+, got 65536\n$/],
    ['not a size', ['--host-memory', 'lots'], /^hv run: --host-memory: .+\n$/],
  ])('exits 2 with one line for %s', (_, args, message) => {
    const r = hv('run', ...args, HELLO);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('takes the cap from a VM config ("hostMemory")', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hv-host-memory-config-'));
    const config = join(dir, 'vm.json');
    const kernel = join(process.cwd(), HELLO);
    const p = (name: string) => ({ name, memory: '64M', paging: 'nested', kernel, overcommit: {} });
    writeFileSync(config, JSON.stringify({ hostMemory: '4M', partitions: [p('a'), p('b'), { ...p('c'), overcommit: undefined }] }));
    const r = hv('run', '--config', config);
    // a and b fit (their RAM comes as they write it); c, with 64 MiB of RAM reserved, does not.
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^hv run: host memory exhausted: a partition of 64M \(nested paging\) needs/);
  });
});
