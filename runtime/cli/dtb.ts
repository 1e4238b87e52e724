// `hv dtb`: writes the device tree blob the virt board hands its guests, so it
// can be inspected with `dtc -I dtb -O dts` or diffed against QEMU's
// (`qemu-system-riscv64 -M virt,dumpdtb=q.dtb`). Options follow QEMU's.

import { writeFileSync } from 'node:fs';
import { DtbConfigError, writeVirtDtb } from '../../drivers/board/dtb.ts';
import { MAX_HARTS } from '../../drivers/board/memmap.ts';
import { parseSize, SizeError } from '../../drivers/board/size.ts';
import { InputError, UsageError } from './errors.ts';

const USAGE = `usage: hv dtb [-m SIZE] [-smp N] [-append ARGS] OUT.dtb

Writes the virt board's device tree blob to OUT.dtb ('-' for stdout).

options:
  -m SIZE        RAM size: 128M, 1G, or a number of MiB (default 128M)
  -smp N         number of harts, 1..${MAX_HARTS} (default 1)
  -append ARGS   kernel command line (/chosen/bootargs)
  -h, --help     show this help`;

export interface DtbOptions {
  ramSize: number;
  harts: number;
  bootargs?: string;
  out: string;
}

/** Parses `hv dtb` arguments; throws UsageError. Returns null for --help. */
export function parseDtbArgs(argv: readonly string[]): DtbOptions | null {
  let ramSize = 128 * 2 ** 20;
  let harts = 1;
  let bootargs: string | undefined;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`option ${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '-h':
      case '--help':
        return null;
      case '-m':
        try {
          ramSize = parseSize(value());
        } catch (e) {
          if (e instanceof SizeError) throw new UsageError(`-m: ${e.message}`, { cause: e });
          throw e;
        }
        if (ramSize <= 0) throw new UsageError('-m: RAM size must be positive');
        break;
      case '-smp': {
        // QEMU accepts "N" or "cpus=N[,...]"; only the count matters here.
        const v = value();
        const n = /^(?:cpus=)?(\d+)(?:,.*)?$/.exec(v);
        harts = n ? Number(n[1]) : NaN;
        if (!Number.isInteger(harts) || harts < 1 || harts > MAX_HARTS) throw new UsageError(`-smp: expected 1..${MAX_HARTS}, got '${v}'`);
        break;
      }
      case '-append':
        bootargs = value();
        break;
      default:
        if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option '${arg}' (see hv dtb --help)`);
        if (out !== undefined) throw new UsageError(`more than one output file ('${out}', '${arg}')`);
        out = arg;
    }
  }
  if (out === undefined) throw new UsageError("missing output file (see hv dtb --help)");
  return { ramSize, harts, bootargs, out };
}

export async function dtbCommand(argv: string[]): Promise<number> {
  const opts = parseDtbArgs(argv);
  if (!opts) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  let blob: Uint8Array;
  try {
    blob = writeVirtDtb({ harts: opts.harts, ramSize: opts.ramSize, bootargs: opts.bootargs });
  } catch (e) {
    if (e instanceof DtbConfigError) throw new UsageError(e.message, { cause: e });
    throw e;
  }
  if (opts.out === '-') {
    process.stdout.write(blob);
  } else {
    try {
      writeFileSync(opts.out, blob);
    } catch (e) {
      throw new InputError(`cannot write '${opts.out}': ${(e as Error).message}`, { cause: e });
    }
  }
  return 0;
}
