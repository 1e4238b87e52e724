// `hv run --overcommit --swap DIR` (docs/memory.md, hypervisor swap): a guest
// with more RAM than the host has runs correctly, its pages going to a swap
// file and coming back, on the threaded and the deterministic host.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

function hv(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/hv.js', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'hv-swap-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PATTERN = [
  'pass 0 ok, sum f60faf0af86818f5',
  'pass 1 ok, sum 71344c2f0ec85ac9',
  'pass 2 ok, sum f2776ad6fe6aa775',
  'swap_pattern: 4096 KiB checked 3 times',
  '',
].join('\n');

describe.each([
  ['nested', []],
  ['shadow', ['--deterministic', '--icount']],
])('hv run --swap, %s paging %s', (paging, mode) => {
  it('runs a guest that checks 4 MiB of its 8 MiB of RAM in 3 MiB of host memory, and leaves no file behind', () => {
    const r = hv('run', ...(mode as string[]), '-m', '8M', '--paging', paging as string, '--overcommit', '--swap', dir, '--host-memory', '3M', '--stats', 'guests/bin/swap_pattern.elf');
    expect(r.stdout).toBe(PATTERN);
    expect(r.code).toBe(0);
    const swap = /hv: swap +(\d+) pages out now \((\d+) slots in the file\); (\d+) swapped out, (\d+) in/.exec(r.stderr);
    expect(swap, r.stderr).not.toBeNull();
    const [, now, , out, back] = swap!.map(Number);
    expect(back).toBeGreaterThan(1000); // each pass's pages came back from the file
    expect(out! - back!).toBe(now);
    expect(readdirSync(dir)).toEqual([]);
  });
});

it('saves a guest with pages in the swap file (read from the file, not swapped in) and restores it to the same end', () => {
  const save = join(dir, 'pattern.hvs');
  const first = hv('run', '-m', '8M', '--paging', 'nested', '--overcommit', '--swap', dir, '--host-memory', '3M', '--stats', '--save', save, '--save-after-insns', '12000000', 'guests/bin/swap_pattern.elf');
  expect(first.code).toBe(0);
  const out = /hv: swap +(\d+) pages out now/.exec(first.stderr);
  expect(Number(out?.[1])).toBeGreaterThan(200); // in the file when the guest was saved
  const second = hv('restore', save);
  expect(second.code).toBe(0);
  expect(first.stdout + second.stdout).toBe(PATTERN);
  expect(readdirSync(dir)).toEqual(['pattern.hvs']);
});

it('--swap needs --overcommit', () => {
  const r = hv('run', '-m', '8M', '--paging', 'nested', '--swap', dir, 'guests/bin/hello.elf');
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/--swap needs --overcommit/);
});

it('a swap directory that does not exist is one line, status 2', () => {
  const r = hv('run', '-m', '8M', '--paging', 'nested', '--overcommit', '--swap', join(dir, 'missing'), 'guests/bin/hello.elf');
  expect(r.stderr).toMatch(/cannot create the swap file '.*missing\/hv-swap-.*': ENOENT/);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.code).toBe(2);
});
