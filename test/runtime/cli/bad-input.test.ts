// Every bad input to `hv run` gets a one-line error and exit status 2 (never
// a stack trace or exit 70), and no input can make a run unbounded.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatSize } from '../../../drivers/board/size.ts';
import { LIMITS, maxMemory, partitionHostBytes } from '../../../runtime/host/spec.ts';

function hv(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/hv.js', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const HELLO = 'guests/bin/hello.elf';
/** The bounds as the spec computes them (they move with the kernel's own regions and per-partition structures). */
const MAX_DIRECT = formatSize(maxMemory('direct'));
const TWO_3000M = formatSize(2 * partitionHostBytes(3000 * 2 ** 20, 'direct'));

function expectUsage(r: ReturnType<typeof hv>, message: RegExp) {
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.code).toBe(2);
}

describe('hv run: bad inputs are one-line usage errors', () => {
  let dir: string;
  const config = (o: unknown, text = JSON.stringify(o)) => {
    const path = join(dir, `vm-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(path, text);
    return path;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hv-bad-'));
    writeFileSync(join(dir, '2m.bin'), new Uint8Array(2 << 20));
    for (let i = 0; i < 9; i++) writeFileSync(join(dir, `d${i}.img`), new Uint8Array(4096));
  });

  it.each([
    ['4097B', /-m: must be a positive multiple of 4 KiB, got 4097B/],
    ['0', /-m: must be a positive multiple of 4 KiB, got 0/],
    ['1B', /-m: must be a positive multiple of 4 KiB, got 1B/],
    ['100B', /-m: must be a positive multiple of 4 KiB, got 100B/],
    ['4K', /-m: must be at least 64K, got 4K/],
    ['4096M', new RegExp(`-m: must be at most ${MAX_DIRECT} with direct paging \\(host memory is one wasm32 memory, 4 GiB in all\\), got 4G`)],
    ['16G', new RegExp(`-m: must be at most ${MAX_DIRECT} with direct paging`)],
  ])('rejects -m %s', (m, message) => {
    expectUsage(hv('run', '-m', m, HELLO), message);
  });

  it('rejects a shadow-paged partition whose tables would not fit beside its RAM', () => {
    expectUsage(hv('run', '--paging', 'shadow', '-m', '4000M', HELLO), /-m: must be at most 38\d\dM with shadow paging/);
  });

  it('rejects "memory": "16G" in a config by the same rule, naming the JSON path', () => {
    const path = config({ partitions: [{ kernel: join(process.cwd(), HELLO), memory: '16G' }] });
    expectUsage(hv('run', '--config', path), new RegExp(`partitions\\[0\\]\\.memory: must be at most ${MAX_DIRECT} with direct paging`));
  });

  it('rejects partitions that fit one by one but not together', () => {
    expectUsage(hv('run', '-m', '3000M', HELLO, HELLO), new RegExp(`the guests: need ${TWO_3000M} of host memory together, more than the ${formatSize(LIMITS.hostMemory)}`));
  });

  it('rejects a ninth -drive', () => {
    const drives = Array.from({ length: 9 }, (_, i) => ['-drive', `file=${join(dir, `d${i}.img`)},format=raw`]).flat();
    expectUsage(hv('run', ...drives, HELLO), /-drive: at most 8 virtio disks \(one per virtio-mmio slot\), got 9/);
  });

  it('rejects a -drive that is not an image file (/dev/null would refuse fsync at the end)', () => {
    expectUsage(hv('run', '-drive', 'file=/dev/null,format=raw,if=virtio', HELLO), /disk '\/dev\/null': not a regular file/);
  });

  it.each([
    ['-bios', ['-m', '1M', '-bios', '2m.bin']],
    ['-kernel', ['-m', '2M', '-bios', 'hv', '-kernel', '2m.bin']],
    ['-initrd', ['-m', '2M', '-initrd', '2m.bin', HELLO]],
  ])('rejects a %s file larger than the RAM it loads into, before reading it', (_, args) => {
    const r = hv('run', ...args.map((a) => (a === '2m.bin' ? join(dir, a) : a)));
    expectUsage(r, /is 2M, larger than the .* it may take \(what fits in the guest's RAM\)/);
  });

  it.each([['-bios', ['-bios', '/dev/zero']], ['-initrd', ['-bios', 'hv', '-kernel', 'guests/bin/enlightened/sbi-hello.elf', '-initrd', '/dev/zero']]])(
    'reads %s /dev/zero only up to what fits in RAM, then rejects it',
    (_, args) => {
      expectUsage(hv('run', '-m', '4M', ...args), /'\/dev\/zero' is larger than the .* it may take/);
    },
  );

  it('rejects an empty kernel file instead of running zeros', () => {
    expectUsage(hv('run', '/dev/null'), /kernel '\/dev\/null' is empty/);
    const empty = join(dir, 'empty.bin');
    writeFileSync(empty, '');
    expectUsage(hv('run', '-bios', empty), /firmware '.*empty.bin' is empty/);
  });

  it('rejects an "append" containing a NUL character', () => {
    const path = config({ partitions: [{ kernel: join(process.cwd(), HELLO), append: 'console=ttyS0\u0000root=/dev/vda' }] });
    expectUsage(hv('run', '--config', path), /partitions\[0\]\.append: must not contain a NUL character/);
  });

  it.each(['1e400', 'Infinity', '0', '-1', 'NaN', 'soon', '31536001'])('rejects --timeout %s', (t) => {
    expectUsage(hv('run', '--timeout', t, HELLO), /--timeout wants a number of seconds above 0 and at most 31536000/);
  });

  it('reports "pcpus": 1e400 as it is, not as null', () => {
    const path = config(null, `{"pcpus": 1e400, "partitions": [{"kernel": "x.elf"}]}`);
    expectUsage(hv('run', '--config', path), /pcpus: must be an integer 1\.\.64, got Infinity/);
  });

  it('keeps an invalid-JSON message on one line', () => {
    const path = config(null, '{"partitions": [\n  {"kernel": x}\n]}');
    expectUsage(hv('run', '--config', path), /invalid JSON: /);
  });
});

describe('hv run: --max-insns', () => {
  it('gives the same run every time without --icount (it implies the icount clock)', () => {
    const runs = [0, 1, 2].map(() => hv('run', '--max-insns', '400000', '--stats', 'guests/bin/interrupts.elf'));
    const instructions = runs.map((r) => /instructions +(\d+)/.exec(r.stderr)?.[1]);
    expect(instructions[0]).toBeDefined();
    expect(new Set(instructions).size).toBe(1);
    expect(new Set(runs.map((r) => r.stdout)).size).toBe(1);
  });

  it('stops a firmware of four zero bytes (a trap storm at mtvec = 0) with status 124', () => {
    const fw = join(mkdtempSync(join(tmpdir(), 'hv-zero-')), 'zero.bin');
    writeFileSync(fw, new Uint8Array(4));
    const r = hv('run', '--max-insns', '1000000', '-bios', fw);
    expect(r.code).toBe(124);
    expect(r.stderr).toMatch(/stopped at the --max-insns limit of 1000000 steps/);
  });

  it('says in --help that it counts instructions, traps and idle time', () => {
    expect(hv('run', '--help').stdout).toMatch(/--max-insns N +stop each guest after N steps: instructions retired, traps\s+taken/);
  });
});

describe('hv run --deterministic --pcpus N: --max-insns', () => {
  it('stops a trap storm on the kernel scheduler too (the scheduler clock counts traps as steps)', () => {
    const fw = join(mkdtempSync(join(tmpdir(), 'hv-zero-')), 'zero.bin');
    writeFileSync(fw, new Uint8Array(4));
    const r = hv('run', '--deterministic', '--pcpus', '2', '--max-insns', '1000', '--stats', '-bios', fw);
    expect(r.code).toBe(124);
    // At the end of the scheduler round that reaches the limit: within a few ms of steps, not billions of traps.
    expect(Number(/traps +(\d+)/.exec(r.stderr)?.[1])).toBeLessThan(50_000_000);
  });
});
