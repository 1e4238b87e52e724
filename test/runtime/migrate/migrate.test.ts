// Live migration between two `hv` processes (runtime/migrate/, docs/migration.md):
// on the deterministic host a guest migrated at an arbitrary step prints,
// ends and is in exactly the state of an uninterrupted run; a connection cut
// at any phase leaves the source running the guest to its normal end.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { guestState, hv } from '../../support/save.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hv-migrate-'));
});

interface Proc {
  code: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
}

function start(args: string[]): Proc {
  const p = spawn(process.execPath, ['bin/hv.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.setEncoding('latin1').on('data', (d: string) => (out += d));
  p.stderr.setEncoding('latin1').on('data', (d: string) => (err += d));
  const code = new Promise<number | null>((resolve) => p.on('close', (c) => resolve(c)));
  return { code, stdout: () => out, stderr: () => err };
}

/** `hv serve --deterministic ...` and the port it listens on. */
async function serve(args: string[]): Promise<{ proc: Proc; port: number }> {
  const proc = start(['serve', '--deterministic', '--port', '0', ...args]);
  for (let i = 0; i < 400; i++) {
    const m = /listening on [\d.]+:(\d+)/.exec(proc.stderr());
    if (m) return { proc, port: Number(m[1]) };
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`hv serve did not listen: ${proc.stderr()}`);
}

/**
 * Migrates `args` at step `at` (with `migrateArgs` for the source) and checks
 * the two halves against one uninterrupted run; compares the state at step
 * `later`. Returns what the source printed on stderr.
 */
async function checkExact(name: string, args: string[], at: number, later: number, migrateArgs: string[] = []): Promise<string> {
  const whole = hv('run', '--icount', ...args);
  const wholeSaved = hv('run', ...args, '--save', join(dir, `${name}-whole.hvs`), '--save-after-insns', String(later));
  const { proc: target, port } = await serve(['--save', join(dir, `${name}-moved.hvs`), '--save-after-insns', String(later)]);
  const source = start(['run', ...args, '--migrate-to', `127.0.0.1:${port}`, '--migrate-after-insns', String(at), ...migrateArgs]);
  expect(await source.code).toBe(0);
  expect(source.stderr()).toMatch(/migrated the guest to 127\.0\.0\.1:\d+: \d+ rounds/);
  expect(await target.code).toBe(0);
  const resumed = hv('restore', join(dir, `${name}-moved.hvs`));
  expect(source.stdout() + target.stdout() + resumed.stdout).toBe(whole.stdout);
  expect(resumed.code).toBe(whole.code);
  expect(wholeSaved.stdout).toBe(source.stdout() + target.stdout());
  expect(guestState(join(dir, `${name}-moved.hvs`))).toEqual(guestState(join(dir, `${name}-whole.hvs`)));
  return source.stderr();
}

describe('a guest live-migrated on the deterministic host', () => {
  it('runs on exactly as if uninterrupted: timer and software interrupts (interrupts.elf)', async () => {
    await checkExact('interrupts', ['guests/bin/interrupts.elf'], 40_009, 90_001);
  });

  it('runs on exactly as if uninterrupted under shadow paging, with its page tables moved (mmu.elf)', async () => {
    await checkExact('mmu', ['--paging', 'shadow', 'guests/bin/mmu.elf'], 50_021, 80_033);
  });

  it('runs on exactly as if uninterrupted: four harts exchanging IPIs, nested paging (smp_ipi.elf)', async () => {
    await checkExact('smp', ['-smp', '4', '--paging', 'nested', 'guests/bin/smp_ipi.elf'], 3_001, 6_007);
  });
});

describe('auto-converge', () => {
  // A link of 1 KB/s: every dirty page is more than the 30 ms downtime
  // allows, and the guest dirties more than half of what each round sends.
  // The deterministic host runs the guest a fixed number of steps between
  // rounds (fewer when throttled), so with the link rate given every round,
  // estimate and throttle decision is the same in every run.
  it('throttles a guest that dirties faster than the link, which still moves and runs on exactly', async () => {
    const stderr = await checkExact('converge', ['guests/bin/interrupts.elf'], 90_001, 100_003, ['--migrate-link-rate', '1']);
    const rounds = stderr
      .split('\n')
      .filter((l) => l.includes(': round '))
      .map((l) => l.replace(/^.*: round/, 'round').replace(/dirty [\d.]+ MB\/s, /, ''));
    expect(rounds).toEqual([
      'round 1: 8 KiB left, expected downtime 8192.0 ms',
      'round 2: 4 KiB left, expected downtime 4096.0 ms',
      'round 3: 4 KiB left, expected downtime 4096.0 ms',
      'round 4: 4 KiB left, expected downtime 4096.0 ms', // dirtied as much as it sent, twice: throttled
      'round 5: 4 KiB left, expected downtime 4096.0 ms, throttled 20%',
      'round 6: 8 KiB left, expected downtime 8192.0 ms, throttled 20%', // twice again: 10 points more
      'round 7: 0 KiB left, expected downtime 0.0 ms, throttled 30%',
      'round 8: 0 KiB left, expected downtime 0.0 ms, throttled 30%',
      'round 9: 0 KiB left, expected downtime 0.0 ms, throttled 30%',
    ]);
    expect(stderr).toMatch(/migrated the guest to 127\.0\.0\.1:\d+: 9 rounds, .*, throttled to 70%\n/);
  });
});

describe('a migration whose connection is cut', () => {
  const args = ['guests/bin/interrupts.elf'];
  let whole: ReturnType<typeof hv>;
  beforeAll(() => {
    whole = hv('run', '--icount', ...args);
  });

  // Where the source notices: the cut itself, or a later phase (a cut during
  // pre-copy of a small guest may be seen only when the source next reads).
  it.each([
    ['handshake', /migration failed in handshake/],
    ['pre-copy', /migration failed in (pre-copy|stop-and-copy|confirm)/],
    ['stop-and-copy', /migration failed in confirm/], // the source has sent everything and waits for the target
    ['confirm', /migration failed in confirm/],
  ])('at %s leaves the source running the guest to its normal end', async (failAt, phase) => {
    const { proc: target, port } = await serve(['--fail-at', failAt]);
    const source = start(['run', ...args, '--migrate-to', `127.0.0.1:${port}`, '--migrate-after-insns', '40009']);
    expect(await source.code).toBe(whole.code);
    expect(source.stdout()).toBe(whole.stdout);
    expect(source.stderr()).toMatch(phase);
    expect(source.stderr()).toContain('the guest runs on here');
    expect(await target.code).toBe(1);
    expect(target.stdout()).toBe('');
  });

  it('to a host that is not there: the guest runs on', async () => {
    const source = start(['run', ...args, '--migrate-to', '127.0.0.1:1', '--migrate-after-insns', '40009']);
    expect(await source.code).toBe(whole.code);
    expect(source.stdout()).toBe(whole.stdout);
    expect(source.stderr()).toContain('migration failed in connect: cannot connect to 127.0.0.1:1');
  });
});
