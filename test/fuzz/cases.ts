// The fuzz suite's case kinds. Each takes a seeded Rng and returns what it
// did (guest steps run) or throws a FuzzFailure saying what broke a rule:
//
//  - a case ends within its bound (a step limit, a wall-clock deadline);
//  - with exit 0, a guest status, 124, or 2 and one line - never a stack
//    trace, an internal error or a device model that failed (exit 70);
//  - read-only VHD commands (info, check) leave the file as it was.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openVhd, createVhdFile } from '../../drivers/vhd/chain.ts';
import { parseVmConfig, ConfigError } from '../../runtime/config/vm-config.ts';
import { InputError } from '../../runtime/errors.ts';
import { Host } from '../../runtime/host/host.ts';
import { partitionSpec, type PagingMode } from '../../runtime/host/spec.ts';
import { ElfError, parseElf } from '../../runtime/loader/elf.ts';
import { Machine, type RunResult } from '../../runtime/machine/machine.ts';
import { main } from '../../runtime/cli/main.ts';
import { packageRoot } from '../../runtime/host/paths.ts';
import { guestImage, RAM_BASE, type CodeKind } from './guest-code.ts';
import type { Rng } from './random.ts';

export class FuzzFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FuzzFailure';
  }
}

export interface CaseOutcome {
  /** Guest steps executed (instructions, traps, idle time), for the report. */
  steps: number;
}

const PAGING: PagingMode[] = ['direct', 'nested', 'shadow'];
const RESULT_KINDS = new Set(['exit', 'reset', 'stopped', 'timeout', 'insn-limit', 'off']);
const ROOT = packageRoot();
const HV = join(ROOT, 'bin', 'hv.js');

let scratch: string | undefined;
/** A directory for this process's fuzz files. */
export function scratchDir(): string {
  return (scratch ??= mkdtempSync(join(tmpdir(), 'hv-fuzz-')));
}

function checkResult(what: string, r: RunResult): void {
  if (!RESULT_KINDS.has(r.kind)) throw new FuzzFailure(`${what}: result ${JSON.stringify(r)}`);
}

// ---- guest code on the deterministic host (in process) ---------------------------

/** Random or opcode-biased code in `paging`, 1-2 harts, up to `maxSteps` steps (exactly that many if it does not finish). */
export async function guestCase(rng: Rng, kind: CodeKind, paging: PagingMode, maxSteps: number): Promise<CaseOutcome> {
  const img = guestImage(rng, kind, rng.range(64, 1024));
  const harts = rng.chance(0.25) ? 2 : 1;
  const what = `${kind} code, ${paging} paging, ${harts} hart(s), ${img.sv39 ? 'Sv39 S-mode' : 'M-mode'}, seed ${rng.seed}`;
  let m: Machine;
  let result: RunResult;
  try {
    m = new Machine({ ramSize: 2 << 20, harts, paging, clock: 'icount', onConsole: () => {} });
    m.loadRaw(img.bytes, RAM_BASE, 'fuzz code');
    m.boot(BigInt(RAM_BASE), m.placeDtb());
    result = await m.run({ maxInsns: maxSteps, slice: rng.pick([1000, 10_000, 100_000]) });
  } catch (e) {
    throw new FuzzFailure(`${what}: the host threw ${(e as Error)?.stack ?? e}`);
  }
  checkResult(what, result);
  const steps = m.steps();
  if (steps > maxSteps) throw new FuzzFailure(`${what}: ran ${steps} steps, over the limit of ${maxSteps}`);
  if (result.kind === 'insn-limit' && steps !== maxSteps) throw new FuzzFailure(`${what}: stopped at ${steps} steps, not at the limit ${maxSteps}`);
  return { steps };
}

// ---- guest code on the threaded host --------------------------------------------

/**
 * `count` partitions of fuzzed code at once on a threaded host with two
 * pCPUs, each turned off after `ms` of wall time unless it ends first.
 */
export async function threadedCase(rng: Rng, count: number, ms: number): Promise<CaseOutcome> {
  const dir = scratchDir();
  const host = await Host.start({ pcpus: 2, memoryBytes: count * (3 << 20) + (8 << 20) });
  const what = `threaded batch of ${count}, seed ${rng.seed}`;
  let steps = 0;
  try {
    const ids: number[] = [];
    for (let k = 0; k < count; k++) {
      const img = guestImage(rng, rng.pick(['random', 'biased', 'biased'] as const), rng.range(64, 512));
      const file = join(dir, `threaded-${rng.seed}-${k}.bin`);
      writeFileSync(file, img.bytes);
      const spec = partitionSpec(`f${k}`, undefined as unknown as string, { memory: 2 << 20, paging: rng.pick(PAGING), vcpus: rng.chance(0.3) ? 2 : 1, bios: file });
      delete spec.kernel;
      ids.push(await host.create(spec, () => {}));
    }
    for (const id of ids) await host.start(id);
    const timer = setTimeout(() => ids.forEach((id) => void host.stop(id, 'timeout').catch(() => {})), ms);
    try {
      for (const id of ids) {
        checkResult(what, await host.wait(id));
        const t = (await host.stats(id)).totals;
        steps += t.instructions + t.traps + t.interrupts;
      }
    } finally {
      clearTimeout(timer);
    }
  } catch (e) {
    if (e instanceof FuzzFailure) throw e;
    throw new FuzzFailure(`${what}: the host failed: ${(e as Error)?.stack ?? e}`);
  } finally {
    await host.close();
  }
  return { steps };
}

// ---- malformed ELF ----------------------------------------------------------------

let elfBase: Uint8Array | undefined;

/** An ELF with damage in its header, program headers, section headers or length; loaded and run if it parses. */
export async function elfCase(rng: Rng): Promise<CaseOutcome> {
  elfBase ??= new Uint8Array(readFileSync(join(ROOT, 'guests', 'bin', 'hello.elf')));
  const bytes = mutateElf(rng, elfBase);
  const what = `ELF seed ${rng.seed}`;
  let image;
  try {
    image = parseElf(bytes);
  } catch (e) {
    if (e instanceof ElfError) return { steps: 0 };
    throw new FuzzFailure(`${what}: parseElf threw ${(e as Error)?.stack ?? e}`);
  }
  try {
    const m = new Machine({ ramSize: 1 << 20, harts: 1, clock: 'icount', onConsole: () => {} });
    let entry: bigint;
    try {
      entry = m.loadElf(image);
    } catch (e) {
      if (e instanceof ElfError) return { steps: 0 };
      throw e;
    }
    m.boot(entry, m.placeDtb());
    checkResult(what, await m.run({ maxInsns: 20_000 }));
    return { steps: m.steps() };
  } catch (e) {
    if (e instanceof FuzzFailure) throw e;
    throw new FuzzFailure(`${what}: loading or running threw ${(e as Error)?.stack ?? e}`);
  }
}

export function mutateElf(rng: Rng, base: Uint8Array): Uint8Array {
  let b: Uint8Array = base.slice();
  const dv = () => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const phoff = Number(dv().getBigUint64(32, true));
  const shoff = Number(dv().getBigUint64(40, true));
  const extremes = [0n, 1n, 0x7fffn, 0xffffn, 0xffff_ffffn, 0x8000_0000n, 0xffff_ffff_ffff_ffffn, 1n << 63n];
  const n = rng.range(1, 4);
  for (let k = 0; k < n; k++) {
    const where = rng.pick(['header', 'phdr', 'shdr', 'anywhere', 'truncate', 'field'] as const);
    const at = where === 'header' ? rng.int(64) : where === 'phdr' ? phoff + rng.int(56 * 2) : where === 'shdr' ? shoff + rng.int(64 * 4) : rng.int(b.length);
    if (where === 'truncate') b = b.slice(0, rng.int(b.length));
    else if (where === 'field') {
      const off = rng.pick([24, 32, 40, 54, 56, 58, 60, phoff + 8, phoff + 16, phoff + 24, phoff + 32, phoff + 40, shoff + 24, shoff + 32]);
      if (off + 8 <= b.length) dv().setBigUint64(off, rng.pick(extremes) ^ BigInt(rng.chance(0.5) ? 0 : rng.u32()), true);
    } else if (at < b.length) b[at] = rng.u32() & 0xff;
  }
  return b;
}

// ---- malformed VHD: info and check must not change the file ------------------------

let vhdBase: string | undefined;
const VHD_BLOCK = 4096;

/** A dynamic VHD damaged at its footer, header, BAT or a block's bitmap; `hv vhd info` and `check` on it. */
export async function vhdCase(rng: Rng): Promise<CaseOutcome> {
  const dir = scratchDir();
  if (!vhdBase) {
    vhdBase = join(dir, 'base.vhd');
    createVhdFile(vhdBase, { size: 256 * 1024, type: 'dynamic', blockSize: VHD_BLOCK });
    const d = openVhd(vhdBase);
    for (const block of [0, 3, 7, 20]) d.write(block * VHD_BLOCK, new Uint8Array(VHD_BLOCK).fill(block + 1));
    d.close();
  }
  const file = join(dir, `case-${rng.seed}.vhd`);
  copyFileSync(vhdBase, file);
  const bytes = new Uint8Array(readFileSync(file));
  const dv = new DataView(bytes.buffer);
  const bat = Number(dv.getBigUint64(512 + 16, false));
  const region = rng.pick(['footer', 'footer-copy', 'header', 'bat', 'bitmap', 'length'] as const);
  const firstBlock = dv.getUint32(bat, false) * 512;
  const span: [number, number] =
    region === 'footer' ? [bytes.length - 512, 512] : region === 'footer-copy' ? [0, 512] : region === 'header' ? [512, 1024] : region === 'bat' ? [bat, 128] : [firstBlock, 512];
  let out: Uint8Array = bytes;
  if (region === 'length') out = bytes.slice(0, rng.int(bytes.length));
  else {
    for (let k = rng.range(1, 4); k > 0; k--) {
      const at = span[0] + (rng.int(span[1]) & ~3);
      if (at + 4 > out.length) continue;
      if (rng.chance(0.5)) dv.setUint32(at, rng.pick([0, 0xffff_ffff, 0x7fff_ffff, 1, rng.u32()]), false);
      else out[at + rng.int(4)] ^= 1 << rng.int(8);
    }
  }
  writeFileSync(file, out);
  const before = digest(file);
  for (const argv of [['vhd', 'info', file], ['vhd', 'info', '--output=json', file], ['vhd', 'check', file], ['vhd', 'check', '--output=json', file]]) {
    const r = await cliInProcess(argv);
    const what = `hv ${argv.slice(0, -1).join(' ')} on a VHD damaged at its ${region} (seed ${rng.seed})`;
    if (r.threw !== undefined) throw new FuzzFailure(`${what}: threw ${r.threw}`);
    if (![0, 1, 2, 3].includes(r.code)) throw new FuzzFailure(`${what}: exit status ${r.code}`);
    if (argv[1] === 'info' && r.code === 2 && r.stderr.trim().split('\n').length !== 1) throw new FuzzFailure(`${what}: error message of several lines: ${r.stderr}`);
    if (digest(file) !== before) throw new FuzzFailure(`${what}: the file changed`);
  }
  return { steps: 0 };
}

function digest(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** `hv ARGV` in this process, its output captured; `threw`: an exception that escaped (a bug). */
async function cliInProcess(argv: string[]): Promise<{ code: number; stdout: string; stderr: string; threw?: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((c: string | Uint8Array) => ((stdout += String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(argv), stdout, stderr };
  } catch (e) {
    return { code: -1, stdout, stderr, threw: (e as Error)?.stack ?? String(e) };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

// ---- malformed VM configs -------------------------------------------------------------

const CONFIG_VALUES: unknown[] = [
  0, -1, 1, 1.5, 64, 65, 4096, 2 ** 53, 1e400, -1e400, '', 'x', '64M', '16G', '4097B', '0', 'none', 'hv', 'a\u0000b', null, true, false, [], [1], {}, { path: 'd' },
  'direct', 'nested', 'shadow', 'firmware', 'enlightened', 'raw', 'vpc', 'x'.repeat(40), '../../etc/passwd',
];

/** A VM config with random keys, values and types, or damaged text: parses to a spec or a one-line ConfigError. */
export async function configCase(rng: Rng): Promise<CaseOutcome> {
  const p: Record<string, unknown> = { kernel: 'k.elf', memory: '64M', vcpus: 2, paging: 'nested', disks: [{ path: 'd.vhd', format: 'vpc' }], sched: { weight: 256, cap: 50, reservation: 10 } };
  const host: Record<string, unknown> = { pcpus: 2, partitions: [p, { name: 'b', kernel: 'b.elf' }] };
  const targets = [host, p, p.sched as Record<string, unknown>, (p.disks as Record<string, unknown>[])[0]!];
  const keys = ['pcpus', 'partitions', 'name', 'memory', 'vcpus', 'paging', 'boot', 'bios', 'kernel', 'append', 'initrd', 'disks', 'sched', 'weight', 'cap', 'reservation', 'path', 'format', 'readonly', 'bogus'];
  for (let k = rng.range(1, 4); k > 0; k--) {
    const t = rng.pick(targets);
    const key = rng.pick(keys);
    if (rng.chance(0.2)) delete t[key];
    else t[key] = rng.pick(CONFIG_VALUES);
  }
  if (rng.chance(0.1)) host.partitions = Array(rng.pick([0, 257, 300])).fill(p);
  let text = JSON.stringify(host, (_k, v) => (v === 1e400 ? '__INF__' : v === -1e400 ? '__NINF__' : v)).replace(/"__INF__"/g, '1e400').replace(/"__NINF__"/g, '-1e400');
  if (rng.chance(0.2)) text = text.slice(0, rng.int(text.length));
  if (rng.chance(0.1)) text = text.replace(/,/, ',\n  ').replace(/\{/, '{\n"');
  try {
    parseVmConfig(text, '/srv');
  } catch (e) {
    if (!(e instanceof ConfigError)) throw new FuzzFailure(`config seed ${rng.seed}: threw ${(e as Error)?.stack ?? e}\n${text}`);
    if (e.message.includes('\n')) {
      // The CLI prints one line whatever the message holds; the reader's own messages should be one line already.
      throw new FuzzFailure(`config seed ${rng.seed}: a message of several lines: ${JSON.stringify(e.message)}`);
    }
  }
  return { steps: 0 };
}

// ---- random command lines (the real CLI, in a child process) ------------------------------

// Each option's values: ones a user would give, and ones that must be refused.
const OPTIONS: [string, string[], string[]][] = [
  ['-m', ['64K', '1M', '2M', '16M', '128M', '1.5M', '256'], ['0', '1B', '100B', '4097B', '4K', '4096M', '16G', '-1M', 'lots', '1e9', '']],
  ['-smp', ['1', '2', '3', '4'], ['0', '65', '-1', '1.5', '1e400', 'Infinity', 'NaN', 'x', '', '9007199254740993']],
  ['--paging', ['direct', 'nested', 'shadow'], ['ept', '']],
  ['-append', ['console=ttyS0', '', 'a b c', 'x'.repeat(4096)], ['x'.repeat(5000)]],
  ['--pcpus', ['1', '2', '3'], ['0', '65', 'x', '', '1e400']],
  ['--timeout', ['0.5', '2', '2147484'], ['0', '1e400', 'Infinity', '-3', 'x']],
];

/** `hv run` with random option values: ends within its bound with 0, a guest status, 124, or 2 and one line. */
export async function cliCase(rng: Rng): Promise<CaseOutcome> {
  const dir = scratchDir();
  const args: string[] = ['run'];
  for (const [name, good, bad] of OPTIONS) if (rng.chance(0.3)) args.push(name, rng.chance(0.8) ? rng.pick(good) : rng.pick(bad));
  if (rng.chance(0.2)) {
    const good = [`file=${join(dir, 'disk.img')},format=raw`, `file=${join(dir, 'disk.img')}`, `file=${join(dir, 'disk.img')},if=virtio,readonly=on`];
    const bad = ['file=/dev/null,format=raw', 'file=', 'format=qcow2', 'file=/nonexistent.img', 'if=ide,file=x', 'garbage'];
    args.push('-drive', rng.chance(0.7) ? rng.pick(good) : rng.pick(bad));
  }
  if (rng.chance(0.3)) args.push(rng.pick(['--deterministic', '--icount', '--stats', '--stats', '--frobnicate', '--help']));
  const guest = rng.int(10);
  if (guest < 5) args.push(join(ROOT, 'guests', 'bin', rng.pick(['hello.elf', 'rv64m.elf', 'interrupts.elf', 'traps.elf', 'smp_ipi.elf', 'virtio_blk.elf', 'mmu.elf'])));
  else if (guest < 7) {
    const f = join(dir, `cli-${rng.seed}.elf`);
    writeFileSync(f, mutateElf(rng, (elfBase ??= new Uint8Array(readFileSync(join(ROOT, 'guests', 'bin', 'hello.elf'))))));
    args.push(f);
  } else if (guest < 9) args.push('-bios', rng.pick(['/dev/zero', '/dev/null', 'none', 'hv', join(ROOT, 'guests', 'bin', 'hello.elf')]));
  else args.push('/dev/null');
  writeFileSync(join(dir, 'disk.img'), new Uint8Array(64 * 1024));
  // Every case is bounded: by a step limit, or by a wall-clock timeout on threads.
  const t = args.indexOf('--timeout');
  const shortTimeout = t >= 0 && Number(args[t + 1]) > 0 && Number(args[t + 1]) <= 3;
  const bounded = shortTimeout ? [] : t < 0 && rng.chance(0.5) ? ['--timeout', '3'] : ['--max-insns', String(rng.range(1, 3_000_000))];
  const argv = [...args, ...bounded];
  const r = spawnSync(process.execPath, [HV, ...argv], { encoding: 'utf8', timeout: 30_000, input: '' });
  const what = `hv ${argv.join(' ')}`.slice(0, 300);
  if (r.status === null) throw new FuzzFailure(`${what}: did not end within 30 s (${r.signal})`);
  if (/internal error|failed servicing|\n\s+at [\w<]/.test(r.stderr)) throw new FuzzFailure(`${what}: exit ${r.status}: ${r.stderr.slice(0, 2000)}`);
  if (r.status === 2 && r.stderr.trim().split('\n').length !== 1 && !argv.includes('--help')) throw new FuzzFailure(`${what}: a usage error of several lines: ${r.stderr}`);
  if (r.status === 70) throw new FuzzFailure(`${what}: exit 70: ${r.stderr}`);
  const m = /instructions +(\d+)/.exec(r.stderr);
  return { steps: m ? Number(m[1]) : 0 };
}
