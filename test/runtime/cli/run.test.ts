// The `hv run` command end to end, as a user runs it (bundled CLI in dist/).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

function hv(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/hv.js', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('hv run', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hv-run-'));
  });

  it('prints the guest greeting and exits with its status', () => {
    const r = hv('run', 'guests/bin/hello.elf');
    expect(r.stdout).toBe('Hello from RISC-V guest!\n');
    expect(r.code).toBe(0);
  });

  it('reports statistics on stderr with --stats', () => {
    const r = hv('run', '--stats', 'guests/bin/hello.elf');
    expect(r.stderr).toMatch(/instructions\s+\d+/);
    expect(r.stderr).toMatch(/MIPS/);
    expect(r.stderr).toMatch(/TLB misses/);
    // Threaded (the default): every device access was a VM exit to the root partition.
    expect(r.stderr).toMatch(/VM exits {6}51 to the root partition \(device 51, SBI 0, HTIF 0\)/);
    expect(r.stderr).toMatch(/vCPU 0 +last on pCPU \d+, \d+ instructions, [1-9]\d* slices/);
  });

  it('stops a guest at --max-insns with status 124', () => {
    const r = hv('run', '--max-insns', '50', 'guests/bin/hello.elf');
    expect(r.code).toBe(124);
    expect(r.stderr).toMatch(/stopped at the --max-insns limit of 50 steps/);
  });

  it('runs several ELFs at once, each in a child partition, consoles prefixed by name', () => {
    const r = hv('run', 'guests/bin/hello.elf', 'guests/bin/rv64m.elf', 'guests/bin/hello.elf');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.filter((l) => l === '[hello#0] Hello from RISC-V guest!')).toHaveLength(1);
    expect(lines.filter((l) => l === '[hello#1] Hello from RISC-V guest!')).toHaveLength(1);
    expect(lines).toContain('[rv64m  ] PASSED all 45 checks');
    expect(lines.every((l) => /^\[(hello#[01]|rv64m  )\] /.test(l))).toBe(true);
  });

  it('gives the first failing partition\'s status when several run', () => {
    const r = hv('run', '--max-insns', '2000', 'guests/bin/hello.elf', 'guests/bin/rv64m.elf');
    expect(r.code).toBe(124); // hello finishes in time, rv64m does not
    expect(r.stdout).toContain('[hello] Hello from RISC-V guest!');
    expect(r.stderr).toMatch(/partition rv64m: stopped at the --max-insns limit of 2000 steps/);
  });

  it.each([
    ['a missing file', [join('/nonexistent', 'x.elf')], /cannot read kernel/],
    ['an unknown option', ['--frobnicate', 'guests/bin/hello.elf'], /unknown option '--frobnicate'/],
    ['a bad -smp', ['-smp', 'zero', 'guests/bin/hello.elf'], /-smp: must be an integer 1\.\.64, got "zero"/],
    ['no guest', [], /no guest given/],
  ])('exits 2 with a one-line message for %s', (_, args, message) => {
    const r = hv('run', ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('exits 2 with a one-line message, not a stack trace, for a malformed ELF', () => {
    const bad = join(dir, 'bad.elf');
    writeFileSync(bad, Buffer.from('\x7fELF\x01\x01\x01' + '\0'.repeat(80), 'latin1'));
    const r = hv('run', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('hv run: 32-bit ELF: an RV64 guest is required\n');
  });
});

describe('hv demo', () => {
  it('runs toy guests in child partitions under each paging mode and tabulates their costs', () => {
    const r = hv('demo');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[hello] Hello from RISC-V guest!');
    expect(r.stdout).toMatch(/partition\s+paging\s+vCPUs\s+result\s+instructions/);
    for (const row of [/hello\s+direct\s+1\s+exit 0/, /smp\s+direct\s+4\s+exit 0/, /mmu\s+nested\s+1\s+exit 0/, /tlb\s+shadow\s+1\s+exit 0/]) {
      expect(r.stdout).toMatch(row);
    }
    // One row per pCPU thread, each of which ran vCPUs.
    const pcpuRows = [...r.stdout.matchAll(/^(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+$/gm)];
    expect(pcpuRows.length).toBeGreaterThanOrEqual(1);
    for (const m of pcpuRows) expect(Number(m[4])).toBeGreaterThan(0);
  });
});

describe('hv run on pCPU threads and from a VM config', () => {
  it('runs the partitions of a JSON VM config on --pcpus threads, with their names and scheduling parameters', () => {
    const config = join(mkdtempSync(join(tmpdir(), 'hv-config-')), 'vm.json');
    const bin = join(process.cwd(), 'guests/bin');
    writeFileSync(
      config,
      JSON.stringify({
        pcpus: 2,
        partitions: [
          { name: 'greeter', memory: '16M', kernel: join(bin, 'hello.elf'), sched: { weight: 512 } },
          { name: 'smp', memory: '32M', vcpus: 4, paging: 'nested', kernel: join(bin, 'smp_ipi.elf'), sched: { cap: 150 } },
        ],
      }),
    );
    const r = hv('run', '--config', config, '--stats');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\[greeter\] Hello from RISC-V guest!$/m);
    expect(r.stdout).toMatch(/^\[smp {4}\] /m);
    expect(r.stdout).not.toMatch(/FAIL/);
    expect(r.stderr).toMatch(/hv \[smp\]: G-stage walks [1-9]/);
  });

  it('rejects a VM config with an error that names the bad key, and partition options beside --config', () => {
    const config = join(mkdtempSync(join(tmpdir(), 'hv-config-')), 'bad.json');
    writeFileSync(config, JSON.stringify({ partitions: [{ kernel: 'x.elf', vcpus: 0 }] }));
    const r = hv('run', '--config', config);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/partitions\[0\]\.vcpus/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const both = hv('run', '--config', config, '-m', '64M');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/-m cannot be combined with --config/);
  });

  it('gives the same console output on 1 and 2 pCPU threads and in deterministic mode', () => {
    const runs = [['--pcpus', '1'], ['--pcpus', '2'], ['--deterministic']].map((mode) => hv('run', ...mode, '-smp', '4', 'guests/bin/smp_ipi.elf'));
    for (const r of runs) expect(r.code).toBe(0);
    expect(runs[1]!.stdout).toBe(runs[0]!.stdout);
    expect(runs[2]!.stdout).toBe(runs[0]!.stdout);
  });

  it('turns a guest that never ends off at --timeout, with status 124, on threads as in deterministic mode', () => {
    for (const mode of [[], ['--deterministic']]) {
      const t0 = performance.now();
      const r = hv('run', ...mode, '--timeout', '0.5', 'guests/bin/sched/spin.elf');
      expect(r.code).toBe(124);
      expect(r.stderr).toMatch(/timeout after 0\.5 s/);
      expect(performance.now() - t0).toBeLessThan(10_000);
    }
  });

  it('refuses --pcpus out of range', () => {
    const r = hv('run', '--pcpus', '0', 'guests/bin/hello.elf');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--pcpus: must be an integer 1\.\.64, got 0/);
  });

  it('runs on the kernel scheduler in deterministic mode with --deterministic --pcpus: same output, the same run every time', () => {
    const runs = [0, 1].map(() => hv('run', '--deterministic', '--pcpus', '2', '-smp', '4', '--stats', 'guests/bin/smp_ipi.elf'));
    for (const r of runs) {
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(readFileSync('guests/expected/smp_ipi.out', 'latin1'));
    }
    // Host timings differ between runs: wall time, MIPS, the JIT's compile time (HV_JIT).
    const figures = (stderr: string) => stderr.split('\n').filter((l) => !/seconds|MIPS|compiled in/.test(l));
    expect(figures(runs[1]!.stderr)).toEqual(figures(runs[0]!.stderr));
    expect(runs[0]!.stderr).toMatch(/instructions\s+[1-9]\d*/);
  });
});
