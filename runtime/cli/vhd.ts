// `hv vhd`: VHD disk tools, spelled as qemu-img spells the same things.
//   create [-o subformat=fixed|dynamic,block_size=N] [-b PARENT] FILE [SIZE]
//   info [--output=json] FILE
//   check [-r [leaks|all]] [--output=json] FILE
//   convert [-f raw|vpc] [-O raw|vpc] [-o subformat=...,block_size=N] IN OUT
//   commit [-d] FILE
//   changed [--output=json] FILE
//   compact FILE
// Long operations draw a progress bar on a TTY (-p forces it, -q silences).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlockError, type BlockDevice } from '../../drivers/block/device.ts';
import { RawDevice } from '../../drivers/block/raw.ts';
import { createDifferencingFile, createVhdFile, isVhd, openImage, openVhd } from '../../drivers/vhd/chain.ts';
import { checkVhdFile, type CheckReport, type RepairMode } from '../../drivers/vhd/check.ts';
import { commitChild } from '../../drivers/vhd/commit.ts';
import { compactVhdFile } from '../../drivers/vhd/compact.ts';
import { copyDisk } from '../../drivers/vhd/convert.ts';
import { DynamicVhd } from '../../drivers/vhd/dynamic.ts';
import { VhdError } from '../../drivers/vhd/errors.ts';
import { MAX_DISK_SIZE } from '../../drivers/vhd/footer.ts';
import { DEFAULT_BLOCK_SIZE } from '../../drivers/vhd/header.ts';
import { imageInfo, type ImageInfo } from '../../drivers/vhd/info.ts';
import type { Progress } from '../../drivers/vhd/progress.ts';
import { optionValue, parseArgs, type OptionSpec, type Parsed } from './args.ts';
import { InputError, UsageError } from './errors.ts';

const USAGE = `usage: hv vhd <command> [options]

commands:
  create [-q] [-f vpc] [-o subformat=dynamic|fixed,block_size=SIZE] [-b PARENT [-F vpc]] FILE [SIZE]
                 make a disk; -b makes a differencing disk over PARENT (SIZE defaults to PARENT's)
  info [--output=human|json] FILE
                 describe a disk (VHD or raw)
  check [-r [leaks|all]] [--output=human|json] FILE
                 check a VHD's consistency; -r repairs what is safe to repair
                 (exit 0 clean, 2 errors left, 3 only leaked space left)
  convert [-p] [-q] [-f raw|vpc] [-O raw|vpc] [-o subformat=...,block_size=SIZE] IN OUT
                 copy a disk to a new file, skipping zero blocks (default output raw)
  commit [-p] [-q] [-d] FILE
                 merge a differencing disk into its parent, then empty it (-d keeps it)
  changed [--output=human|json] FILE
                 byte ranges a differencing (or dynamic) disk holds itself: "OFFSET LENGTH" lines
  compact [-p] [-q] FILE
                 rewrite a dynamic or differencing disk without unused and empty blocks

SIZE takes k, M, G, T suffixes (powers of 1024) and is rounded up to 512 bytes.`;

type Sub = (args: string[]) => Promise<number> | number;

const SUBCOMMANDS: Record<string, Sub> = { create, info, check, convert, commit, changed, compact };

export async function vhdCommand(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(USAGE + '\n');
    return name === undefined ? 2 : 0;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub) throw new UsageError(`unknown vhd command '${name}' (try 'hv vhd --help')`);
  if (rest.includes('-h') || rest.includes('--help')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  try {
    return await sub(rest);
  } catch (e) {
    throw asInputError(e);
  }
}

/** Failures caused by the files named on the command line become InputError (one line, exit 2). */
function asInputError(e: unknown): unknown {
  if (e instanceof UsageError || e instanceof InputError) return e;
  if (e instanceof VhdError || e instanceof BlockError) return new InputError(e.message, { cause: e });
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && typeof err.syscall === 'string') {
    return new InputError(`${err.path ?? ''}${err.path ? ': ' : ''}${err.code === 'ENOENT' ? 'no such file' : err.message}`, { cause: e });
  }
  return e;
}

// ---- argument helpers ----

const OUTPUT: Record<string, OptionSpec> = { output: { value: true } };
const QUIET: Record<string, OptionSpec> = { p: { value: false }, q: { value: false } };

function positionals(p: Parsed, min: number, max: number, what: string): string[] {
  if (p.positionals.length < min || p.positionals.length > max) throw new UsageError(`expected ${what}`);
  return p.positionals;
}

function outputFormat(p: Parsed): 'human' | 'json' {
  const v = optionValue(p, 'output') ?? 'human';
  if (v !== 'human' && v !== 'json') throw new UsageError(`--output must be human or json, got '${v}'`);
  return v;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/** qemu-img style size: a number with an optional k/M/G/T/P suffix, rounded up to whole sectors. */
export function parseSize(text: string, what = 'size'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgtp]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`bad ${what} '${text}' (want a number with an optional k, M, G or T suffix)`);
  const bytes = Math.ceil(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`${what} '${text}' is too large`);
  return Math.ceil(bytes / 512) * 512;
}

interface VhdOptions {
  subformat?: 'fixed' | 'dynamic';
  blockSize?: number;
}

/** The -o list: subformat, block_size, and force_size (accepted; our disks always honour their exact size). */
function parseVhdOptions(p: Parsed): VhdOptions {
  const out: VhdOptions = {};
  for (const list of p.options.get('o') ?? []) {
    for (const item of list.split(',').filter(Boolean)) {
      const eq = item.indexOf('=');
      const key = eq < 0 ? item : item.slice(0, eq);
      const value = eq < 0 ? '' : item.slice(eq + 1);
      switch (key) {
        case 'subformat':
          if (value !== 'fixed' && value !== 'dynamic') throw new UsageError(`subformat must be fixed or dynamic, got '${value}'`);
          out.subformat = value;
          break;
        case 'block_size': {
          const bs = parseSize(value, 'block_size');
          if (bs < 512 || bs > 256 * 2 ** 20 || (bs & (bs - 1)) !== 0) {
            throw new UsageError(`block_size must be a power of two from 512 to 256M, got '${value}'`);
          }
          out.blockSize = bs;
          break;
        }
        case 'force_size':
          if (!['on', 'off', 'true', 'false', ''].includes(value)) throw new UsageError(`force_size must be on or off`);
          break;
        default:
          throw new UsageError(`unknown -o option '${key}' (known: subformat, block_size, force_size)`);
      }
    }
  }
  return out;
}

function vhdFormat(v: string | undefined, flag: string): 'vpc' | 'raw' | undefined {
  if (v === undefined) return undefined;
  if (v === 'vpc' || v === 'vhd') return 'vpc';
  if (v === 'raw') return 'raw';
  throw new UsageError(`${flag} must be vpc (or vhd) or raw, got '${v}'`);
}

// ---- progress ----

function progressBar(p: Parsed, label: string): { update: Progress; done: () => void } {
  const quiet = p.options.has('q');
  const show = !quiet && (p.options.has('p') || process.stderr.isTTY === true);
  if (!show) return { update: () => {}, done: () => {} };
  let last = -1;
  let lastAt = 0;
  const draw = (done: number, total: number, force = false): void => {
    const frac = total > 0 ? done / total : 1;
    const pct = Math.floor(frac * 1000);
    const now = Date.now();
    if (!force && (pct === last || now - lastAt < 80)) return;
    last = pct;
    lastAt = now;
    const width = 30;
    const fill = Math.round(frac * width);
    process.stderr.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(1).padStart(5)}%`);
  };
  return {
    update: (d, t) => draw(d, t, d === t),
    done: () => process.stderr.write('\n'),
  };
}

function say(p: Parsed, line: string): void {
  if (!p.options.has('q')) process.stdout.write(line + '\n');
}

function humanSize(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${Number.isInteger(v) ? v : v.toFixed(2).replace(/\.?0+$/, '')} ${units[u]}`;
}

// ---- subcommands ----

function create(args: string[]): number {
  const p = parseArgs(args, { o: { value: true, repeat: true }, b: { value: true }, F: { value: true }, f: { value: true }, q: { value: false } });
  if ((vhdFormat(optionValue(p, 'f'), '-f') ?? 'vpc') !== 'vpc') throw new UsageError('hv vhd create makes VHD (vpc) disks only');
  vhdFormat(optionValue(p, 'F'), '-F');
  const [file, sizeText] = positionals(p, 1, 2, 'FILE [SIZE]');
  const opts = parseVhdOptions(p);
  const parent = optionValue(p, 'b');
  if (parent !== undefined) {
    if (opts.subformat === 'fixed') throw new UsageError('a differencing disk (-b) cannot be fixed');
    if (!isVhd(parent)) throw new InputError(`${parent}: the parent of a differencing disk must be a VHD`);
    const parentSize = imageInfo(parent).virtualSize;
    if (sizeText !== undefined && parseSize(sizeText) !== parentSize) {
      throw new UsageError(`a differencing disk has its parent's size (${parentSize} bytes)`);
    }
    createDifferencingFile(file!, parent, { blockSize: opts.blockSize });
    say(p, `Formatting '${file}', fmt=vpc size=${parentSize} backing_file=${parent} subformat=differencing`);
    return 0;
  }
  if (sizeText === undefined) throw new UsageError('SIZE is required without -b');
  const size = parseSize(sizeText);
  if (size === 0 || size > MAX_DISK_SIZE) throw new UsageError(`size must be between 512 bytes and ${MAX_DISK_SIZE} bytes`);
  const type = opts.subformat ?? 'dynamic';
  createVhdFile(file!, { size, type, blockSize: opts.blockSize });
  const bs = type === 'dynamic' ? ` block_size=${opts.blockSize ?? DEFAULT_BLOCK_SIZE}` : '';
  say(p, `Formatting '${file}', fmt=vpc size=${size} subformat=${type}${bs}`);
  return 0;
}

function info(args: string[]): number {
  const p = parseArgs(args, OUTPUT);
  const [file] = positionals(p, 1, 1, 'FILE');
  const i = imageInfo(file!);
  if (outputFormat(p) === 'json') {
    process.stdout.write(JSON.stringify(infoJson(i), null, 4) + '\n');
    return 0;
  }
  const lines = [
    `image: ${i.filename}`,
    `file format: ${i.format}`,
    `virtual size: ${humanSize(i.virtualSize)} (${i.virtualSize} bytes)`,
    `disk size: ${humanSize(i.actualSize)}`,
  ];
  const v = i.vhd;
  if (v) {
    if (v.blockSize) lines.push(`cluster_size: ${v.blockSize}`);
    if (v.parent) lines.push(`backing file: ${v.parent.candidate ?? v.parent.name}`);
    lines.push('Format specific information:');
    lines.push(`    subformat: ${v.type}`);
    lines.push(`    creator: ${JSON.stringify(v.creatorApp)} ${v.creatorVersion} (${v.creatorOs})`);
    lines.push(`    unique id: ${v.uniqueId}`);
    lines.push(`    created: ${v.created}`);
    lines.push(`    current size: ${v.currentSize}`);
    lines.push(`    geometry (CHS): ${v.geometry.cylinders}/${v.geometry.heads}/${v.geometry.sectorsPerTrack}`);
    if (v.blocks !== undefined) lines.push(`    blocks: ${v.allocatedBlocks} of ${v.blocks} allocated`);
    if (v.savedState) lines.push(`    saved state: yes`);
    if (v.parent) {
      lines.push(`    parent name: ${v.parent.name}`);
      lines.push(`    parent unique id: ${v.parent.uniqueId}`);
      lines.push(`    parent timestamp: ${v.parent.timestamp}`);
      for (const l of v.parent.locators) lines.push(`    parent locator ${l.platform}: ${l.path ?? '(unreadable)'}`);
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

function infoJson(i: ImageInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {
    'virtual-size': i.virtualSize,
    filename: i.filename,
    format: i.format,
    'actual-size': i.actualSize,
    'dirty-flag': false,
  };
  if (i.vhd?.blockSize) out['cluster-size'] = i.vhd.blockSize;
  if (i.vhd?.parent) out['backing-filename'] = i.vhd.parent.candidate ?? i.vhd.parent.name;
  if (i.vhd) out['format-specific'] = { type: 'vpc', data: i.vhd };
  return out;
}

function check(args: string[]): number {
  const p = parseArgs(args, { ...OUTPUT, r: { value: false }, q: { value: false } });
  let rest = p.positionals;
  let repair: RepairMode = 'none';
  if (p.options.has('r')) {
    repair = 'all';
    if (rest.length === 2 && (rest[0] === 'leaks' || rest[0] === 'all')) {
      repair = rest[0];
      rest = rest.slice(1);
    }
  }
  if (rest.length !== 1) throw new UsageError('expected [-r [leaks|all]] FILE');
  const file = rest[0]!;
  if (!isVhd(file)) throw new InputError(`${file}: not a VHD image`);
  const report = checkVhdFile(file, { repair });
  const status = report.errors.length ? 2 : report.leakedBytes ? 3 : 0;
  if (outputFormat(p) === 'json') {
    process.stdout.write(JSON.stringify(checkJson(file, report), null, 4) + '\n');
    return status;
  }
  if (!p.options.has('q')) process.stdout.write(checkText(report));
  return status;
}

function checkJson(file: string, r: CheckReport): Record<string, unknown> {
  return {
    filename: file,
    format: 'vpc',
    'check-errors': 0,
    corruptions: r.errors.length,
    'leaked-bytes': r.leakedBytes,
    errors: r.errors.map((e) => ({ code: e.code, message: e.message })),
    warnings: r.warnings.map((w) => w.message),
    repaired: r.repaired,
  };
}

function checkText(r: CheckReport): string {
  const out: string[] = [];
  for (const e of r.errors) out.push(`ERROR ${e.code}: ${e.message}`);
  for (const l of r.leaks) out.push(`Leaked: ${l.message}`);
  for (const w of r.warnings) out.push(`Warning: ${w.message}`);
  if (r.repaired.length) {
    out.push('', 'The following repairs were made:', ...r.repaired.map((x) => `    ${x}`), '');
  }
  if (r.errors.length) {
    out.push('', `${r.errors.length} errors were found on the image.`, 'Data may be corrupted, or further writes to the image may corrupt it.');
  }
  if (r.leakedBytes) {
    out.push('', `${r.leakedBytes} leaked bytes were found on the image.`, 'This means waste of disk space, but no harm to data.');
    if (r.leaks.some((l) => !l.repair)) out.push("Space between blocks is reclaimed by 'hv vhd compact'.");
  }
  if (!r.errors.length && !r.leakedBytes) out.push('No errors were found on the image.');
  return out.join('\n').replace(/^\n/, '') + '\n';
}

function convert(args: string[]): number {
  const p = parseArgs(args, { ...QUIET, f: { value: true }, O: { value: true }, o: { value: true, repeat: true } });
  const [input, output] = positionals(p, 2, 2, 'IN OUT');
  if (path.resolve(input!) === path.resolve(output!)) throw new UsageError('IN and OUT are the same file');
  const inFormat = vhdFormat(optionValue(p, 'f'), '-f');
  const outFormat = vhdFormat(optionValue(p, 'O'), '-O') ?? 'raw';
  const opts = parseVhdOptions(p);
  if (outFormat === 'raw' && (opts.subformat || opts.blockSize)) throw new UsageError('-o subformat and block_size apply to -O vpc only');
  const src = openImage(input!, { readOnly: true, format: inFormat === 'vpc' ? 'vhd' : inFormat });
  let dst: BlockDevice | null = null;
  const bar = progressBar(p, 'Converting');
  try {
    let grain = 64 * 1024;
    if (outFormat === 'raw') {
      dst = RawDevice.create(output!, src.size);
    } else {
      const type = opts.subformat ?? 'dynamic';
      createVhdFile(output!, { size: src.size, type, blockSize: opts.blockSize });
      dst = openVhd(output!);
      if (dst instanceof DynamicVhd) grain = dst.blockSize;
    }
    copyDisk(src, dst, { grain, onProgress: bar.update });
    bar.done();
  } finally {
    src.close();
    dst?.close();
  }
  return 0;
}

function commit(args: string[]): number {
  const p = parseArgs(args, { ...QUIET, d: { value: false } });
  const [file] = positionals(p, 1, 1, 'FILE');
  const disk = openVhd(file!, { parentWritable: true });
  const bar = progressBar(p, 'Committing');
  try {
    if (!(disk instanceof DynamicVhd) || disk.type !== 'differencing') throw new InputError(`${file}: not a differencing disk`);
    commitChild(disk, { empty: !p.options.has('d'), onProgress: bar.update });
    bar.done();
  } finally {
    disk.close();
  }
  say(p, 'Image committed.');
  return 0;
}

function changed(args: string[]): number {
  const p = parseArgs(args, OUTPUT);
  const [file] = positionals(p, 1, 1, 'FILE');
  const disk = openVhd(file!, { readOnly: true });
  try {
    if (!(disk instanceof DynamicVhd)) throw new InputError(`${file}: a fixed disk has no allocation map`);
    const extents = disk.ownedExtents();
    if (outputFormat(p) === 'json') {
      process.stdout.write(JSON.stringify(extents) + '\n');
    } else {
      process.stdout.write(extents.map((e) => `${e.start} ${e.length}\n`).join(''));
    }
  } finally {
    disk.close();
  }
  return 0;
}

function compact(args: string[]): number {
  const p = parseArgs(args, QUIET);
  const [file] = positionals(p, 1, 1, 'FILE');
  if (!fs.existsSync(file!)) throw new InputError(`${file}: no such file`);
  const bar = progressBar(p, 'Compacting');
  const r = compactVhdFile(file!, { onProgress: bar.update });
  bar.done();
  say(p, `${file}: ${r.before} -> ${r.after} bytes, ${r.blocksBefore} -> ${r.blocksAfter} blocks`);
  return 0;
}
