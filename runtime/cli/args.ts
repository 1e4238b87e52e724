// A small option parser for QEMU-style command lines: options may be spelled
// with one or two dashes (-m / --m), take their value as the next word or
// after '=', and flags take none. Unknown options are a UsageError.
import { UsageError } from './errors.ts';

export interface OptionSpec {
  /** Takes a value (true) or is a flag (false). */
  value: boolean;
  /** May be given several times (values collect in order). */
  repeat?: boolean;
}

export interface Parsed {
  options: Map<string, string[]>;
  positionals: string[];
}

export function parseArgs(argv: readonly string[], spec: Record<string, OptionSpec>): Parsed {
  const options = new Map<string, string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!word.startsWith('-') || word === '-') {
      positionals.push(word);
      continue;
    }
    const body = word.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option '${word}'`);
    let value = 'true';
    if (s.value) {
      if (eq >= 0) value = body.slice(eq + 1);
      else if (i + 1 < argv.length) value = argv[++i]!;
      else throw new UsageError(`option '${word}' needs a value`);
    } else if (eq >= 0) {
      throw new UsageError(`option '${word}' takes no value`);
    }
    const list = options.get(name) ?? [];
    if (list.length > 0 && !s.repeat) throw new UsageError(`option '-${name}' given twice`);
    list.push(value);
    options.set(name, list);
  }
  return { options, positionals };
}

export function optionValue(p: Parsed, name: string): string | undefined {
  return p.options.get(name)?.[0];
}

const PAGING_MODES = ['direct', 'nested', 'shadow'] as const;

/** --paging MODE: how guest memory is virtualized (default direct). */
export function pagingOption(value: string | undefined): (typeof PAGING_MODES)[number] {
  if (value === undefined) return 'direct';
  const mode = PAGING_MODES.find((m) => m === value);
  if (!mode) throw new UsageError(`--paging wants ${PAGING_MODES.join(', ')}; got '${value}'`);
  return mode;
}

export function intOption(p: Parsed, name: string, min: number, max: number): number | undefined {
  const v = optionValue(p, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`-${name} wants an integer in ${min}..${max}, got '${v}'`);
  return n;
}

/**
 * An option whose value a partition spec's rules check (runtime/host/spec.ts):
 * a number when the text is an integer, else the text itself, for the rule
 * to reject as it shows it ("got \"abc\"").
 */
export function integerOption(p: Parsed, name: string): number | undefined {
  const v = optionValue(p, name);
  if (v === undefined) return undefined;
  return (/^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : v) as number;
}

/** The longest --timeout: a year (the timer is chained past Node's 24.8-day limit). */
export const MAX_TIMEOUT_S = 365 * 24 * 3600;

/** --timeout SECONDS: a finite positive number of seconds (fractions allowed), as ms. */
export function timeoutOption(p: Parsed): number | undefined {
  const v = optionValue(p, 'timeout');
  if (v === undefined) return undefined;
  const s = /^\s*(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/.test(v) ? Number(v) : NaN;
  if (!(s > 0) || s > MAX_TIMEOUT_S) throw new UsageError(`--timeout wants a number of seconds above 0 and at most ${MAX_TIMEOUT_S} (a year), got '${v}'`);
  return s * 1000;
}
