// `hv conformance DIR`: runs every ELF in DIR (e.g. the official riscv-tests,
// built locally) and prints a table and an `N passed, N failed` line.
// A test passes when it exits with status 0 (HTIF tohost = 1, or the finisher).
import { defaultJitMode, JIT_MODES, type JitMode } from '../jit/tier.ts';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseElf } from '../loader/elf.ts';
import { Machine, type PagingMode } from '../machine/machine.ts';
import { intOption, optionValue, pagingOption, parseArgs } from './args.ts';
import { InputError, UsageError } from './errors.ts';

export interface ConformanceResult {
  name: string;
  ok: boolean;
  detail: string;
  instructions: number;
  ms: number;
}

/** Runs one ELF to completion under the deterministic clock. */
export async function runConformanceTest(
  path: string,
  maxInsns = 50_000_000,
  paging: PagingMode = 'direct',
  jit: JitMode = defaultJitMode(),
): Promise<ConformanceResult> {
  const name = path.split('/').pop()!;
  const t0 = performance.now();
  let out = '';
  try {
    const machine = new Machine({
      ramSize: 64 << 20,
      harts: 1,
      clock: 'icount',
      paging,
      onConsole: (b) => (out += Buffer.from(b).toString('latin1')),
    });
    machine.hypervisor.setJit(jit);
    const entry = machine.loadElf(parseElf(readFileSync(path)));
    machine.boot(entry, machine.placeDtb());
    const r = await machine.run({ maxInsns });
    const instructions = machine.instructions();
    const ms = performance.now() - t0;
    if (r.kind === 'exit') {
      const detail = r.code === 0 ? 'pass' : `fail: test ${r.code}`;
      return { name, ok: r.code === 0, detail, instructions, ms };
    }
    return { name, ok: false, detail: r.kind === 'insn-limit' ? `no exit after ${maxInsns} instructions` : r.kind, instructions, ms };
  } catch (e) {
    return { name, ok: false, detail: `error: ${(e as Error).message}${out ? ` (output: ${out.slice(0, 80)})` : ''}`, instructions: 0, ms: performance.now() - t0 };
  }
}

export async function conformanceCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, {
    filter: { value: true },
    'max-insns': { value: true },
    quiet: { value: false },
    paging: { value: true },
    jit: { value: true },
  });
  if (args.positionals.length !== 1) {
    throw new UsageError('usage: hv conformance [--filter REGEX] [--max-insns N] [--paging direct|nested|shadow] [--jit off|on|always] [--quiet] DIR');
  }
  const paging = pagingOption(optionValue(args, 'paging'));
  const jit = optionValue(args, 'jit') ?? defaultJitMode();
  if (!(JIT_MODES as readonly string[]).includes(jit)) throw new UsageError(`--jit takes off, on or always, not '${jit}'`);
  const dir = args.positionals[0]!;
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile()).sort();
  } catch (e) {
    throw new InputError(`cannot read directory '${dir}'`, { cause: e });
  }
  const filter = optionValue(args, 'filter');
  if (filter) files = files.filter((f) => new RegExp(filter).test(f));
  files = files.filter((f) => {
    const b = readFileSync(join(dir, f)).subarray(0, 4);
    return b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
  });
  if (files.length === 0) throw new InputError(`no ELF files in '${dir}'`);
  const maxInsns = intOption(args, 'max-insns', 1, Number.MAX_SAFE_INTEGER);
  const width = Math.max(...files.map((f) => f.length));
  let passed = 0;
  const failed: string[] = [];
  for (const f of files) {
    const r = await runConformanceTest(join(dir, f), maxInsns, paging, jit as JitMode);
    if (r.ok) passed++;
    else failed.push(f);
    if (!args.options.has('quiet') || !r.ok) {
      process.stdout.write(`${r.name.padEnd(width)}  ${r.ok ? 'PASS' : 'FAIL'}  ${String(r.instructions).padStart(9)} insns  ${r.ms.toFixed(0).padStart(5)} ms  ${r.ok ? '' : r.detail}\n`);
    }
  }
  if (failed.length) process.stdout.write(`\nfailed: ${failed.join(' ')}\n`);
  process.stdout.write(`${passed} passed, ${failed.length} failed\n`);
  return failed.length ? 1 : 0;
}
