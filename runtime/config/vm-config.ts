// The JSON VM config of `hv run --config vm.json` (docs/vm-config.md): a host
// and the partitions it starts with, read into a HostSpec (runtime/host/spec.ts).
//
//   {
//     "pcpus": 2,                          optional, 1..64
//     "partitions": [                      1..256 of them
//       { "name": "web",                   default p<index>, [A-Za-z0-9_.-]{1,32}, unique
//         "memory": "64M",                 bytes or a size string (default "128M"), a multiple of 4 KiB
//         "vcpus": 2,                      1..64 (default 1)
//         "paging": "nested",              direct | nested | shadow (default direct)
//         "boot": "enlightened",           firmware | enlightened (default firmware)
//         "bios": "fw.bin",                firmware boot only; "none" = absent
//         "kernel": "guests/bin/enlightened/hello.elf",   required
//         "append": "console=hvc0",
//         "initrd": "x.img",
//         "disks": [{ "path": "disk.vhd", "format": "vpc", "readonly": false }],   at most 8
//         "sched": { "weight": 512, "cap": 50, "reservation": 10 } }
//     ]
//   }
//
// Relative paths (kernel, bios, initrd, disks[].path) are relative to the
// config file's directory. Unknown keys are errors, and every error is a
// ConfigError whose message starts with the JSON path of the bad value.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseSize, SizeError } from '../../drivers/board/size.ts';
import { InputError } from '../errors.ts';
import {
  DEFAULT_SCHED,
  type DiskSpec,
  type HostSpec,
  type PagingMode,
  type PartitionSpec,
  type SchedSpec,
} from '../host/spec.ts';

/** A VM config that cannot be read, is not JSON, or breaks a rule. */
export class ConfigError extends InputError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

const MAX_PCPUS = 64;
const MAX_VCPUS = 64;
const MAX_PARTITIONS = 256;
const MAX_DISKS = 8;
const MAX_PERCENT = 100 * MAX_VCPUS; // cap and reservation: percent of one pCPU
const PAGE = 4096;
const DEFAULT_MEMORY = 128 * 2 ** 20; // "128M"
const NAME = /^[A-Za-z0-9_.-]{1,32}$/;
const PAGING: readonly PagingMode[] = ['direct', 'nested', 'shadow'];
const BOOT = ['firmware', 'enlightened'] as const;
const FORMAT = ['raw', 'vpc'] as const;

const HOST_KEYS = ['pcpus', 'partitions'];
const PARTITION_KEYS = ['name', 'memory', 'vcpus', 'paging', 'boot', 'bios', 'kernel', 'append', 'initrd', 'disks', 'sched'];
const DISK_KEYS = ['path', 'format', 'readonly'];
const SCHED_KEYS = ['weight', 'cap', 'reservation'];

type Obj = Record<string, unknown>;
type Check<T> = (v: unknown, path: string) => T;

/** Parses the text of a VM config; relative paths resolve against `baseDir`. */
export function parseVmConfig(text: string, baseDir: string): HostSpec {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`invalid JSON: ${(e as Error).message}`, { cause: e });
  }
  const o = object(json, '', HOST_KEYS);
  const list = required(o, '', 'partitions');
  if (!Array.isArray(list) || list.length < 1 || list.length > MAX_PARTITIONS) {
    fail('partitions', `must be an array of 1..${MAX_PARTITIONS} partitions, got ${show(list)}`);
  }
  const partitions = list.map((p, i) => partition(p, `partitions[${i}]`, i, baseDir));
  const seen = new Map<string, number>();
  partitions.forEach(({ name }, i) => {
    const first = seen.get(name);
    if (first !== undefined) fail(`partitions[${i}].name`, `duplicate name "${name}" (also partitions[${first}])`);
    seen.set(name, i);
  });
  const host: HostSpec = { partitions };
  if (o.pcpus !== undefined) host.pcpus = int(o.pcpus, 'pcpus', 1, MAX_PCPUS);
  return host;
}

/** Reads and parses the VM config file at `path`; errors start with the path. */
export function readVmConfig(path: string): HostSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${path}: cannot read the VM config: ${(e as Error).message}`, { cause: e });
  }
  try {
    return parseVmConfig(text, dirname(path));
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${path}: ${e.message}`, { cause: e });
    throw e;
  }
}

function partition(v: unknown, path: string, index: number, baseDir: string): PartitionSpec {
  const o = object(v, path, PARTITION_KEYS);
  const file: Check<string> = (value, p) => resolve(baseDir, nonEmpty(value, p));
  const boot = field(o, path, 'boot', 'firmware', (v, p) => oneOf(v, p, BOOT));
  const spec: PartitionSpec = {
    name: field(o, path, 'name', `p${index}`, name),
    memory: field(o, path, 'memory', DEFAULT_MEMORY, memory),
    vcpus: field(o, path, 'vcpus', 1, (v, p) => int(v, p, 1, MAX_VCPUS)),
    paging: field(o, path, 'paging', 'direct', (v, p) => oneOf(v, p, PAGING)),
    boot,
    kernel: file(required(o, path, 'kernel'), at(path, 'kernel')),
    disks: field(o, path, 'disks', [], (v, p) => disks(v, p, file)),
    sched: field(o, path, 'sched', { ...DEFAULT_SCHED }, sched),
  };
  if (o.bios !== undefined && o.bios !== 'none') {
    if (boot !== 'firmware') fail(at(path, 'bios'), `only allowed with boot "firmware" (this partition boots "${boot}")`);
    spec.bios = file(o.bios, at(path, 'bios'));
  }
  if (o.append !== undefined) spec.append = string(o.append, at(path, 'append'));
  if (o.initrd !== undefined) spec.initrd = file(o.initrd, at(path, 'initrd'));
  return spec;
}

/** Bytes: a JSON number of bytes or a size string ("64M", "1G"; a bare number string is MiB). */
function memory(v: unknown, path: string): number {
  let bytes: number;
  if (typeof v === 'number') bytes = v;
  else if (typeof v === 'string') {
    try {
      bytes = parseSize(v);
    } catch (e) {
      if (e instanceof SizeError) fail(path, e.message);
      throw e;
    }
  } else fail(path, `must be a number of bytes or a size such as "128M", got ${show(v)}`);
  if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes % PAGE !== 0) {
    fail(path, `must be a positive multiple of 4 KiB, got ${show(v)}`);
  }
  return bytes;
}

function name(v: unknown, path: string): string {
  if (typeof v !== 'string' || !NAME.test(v)) fail(path, `must be 1..32 of A-Z a-z 0-9 _ . -, got ${show(v)}`);
  return v;
}

function disks(v: unknown, path: string, file: Check<string>): DiskSpec[] {
  if (!Array.isArray(v) || v.length > MAX_DISKS) fail(path, `must be an array of at most ${MAX_DISKS} disks, got ${show(v)}`);
  return v.map((d, i) => {
    const p = `${path}[${i}]`;
    const o = object(d, p, DISK_KEYS);
    const disk: DiskSpec = {
      path: file(required(o, p, 'path'), at(p, 'path')),
      readonly: field(o, p, 'readonly', false, boolean),
    };
    if (o.format !== undefined) disk.format = oneOf(o.format, at(p, 'format'), FORMAT);
    return disk;
  });
}

function sched(v: unknown, path: string): SchedSpec {
  const o = object(v, path, SCHED_KEYS);
  const s: SchedSpec = {
    weight: field(o, path, 'weight', DEFAULT_SCHED.weight, (v, p) => int(v, p, 1, 65535)),
    cap: field(o, path, 'cap', DEFAULT_SCHED.cap, (v, p) => int(v, p, 0, MAX_PERCENT)),
    reservation: field(o, path, 'reservation', DEFAULT_SCHED.reservation, (v, p) => int(v, p, 0, MAX_PERCENT)),
  };
  if (s.cap !== 0 && s.reservation > s.cap) {
    fail(at(path, 'reservation'), `must be at most cap (${s.cap}), got ${s.reservation}`);
  }
  return s;
}

// ---- checks: each returns the value as its type or throws naming the path

function fail(path: string, message: string): never {
  throw new ConfigError(`${path || 'config'}: ${message}`);
}

/** The JSON path of `key` inside the object at `path` ('' is the top level). */
function at(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** A value as an error message shows it. */
function show(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object' && v !== null) return 'an object';
  return JSON.stringify(v);
}

/** `v` as an object whose keys are all in `known`. */
function object(v: unknown, path: string, known: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, `must be an object, got ${show(v)}`);
  for (const key of Object.keys(v)) {
    if (!known.includes(key)) fail(at(path, key), `unknown key (expected one of: ${known.join(', ')})`);
  }
  return v as Obj;
}

/** `o[key]` checked, or `dflt` when the key is absent (null is a value, and wrong). */
function field<T>(o: Obj, path: string, key: string, dflt: T, check: Check<T>): T {
  return o[key] === undefined ? dflt : check(o[key], at(path, key));
}

function required(o: Obj, path: string, key: string): unknown {
  if (o[key] === undefined) fail(at(path, key), 'missing (required)');
  return o[key];
}

function int(v: unknown, path: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    fail(path, `must be an integer ${lo}..${hi}, got ${show(v)}`);
  }
  return v;
}

function oneOf<T extends string>(v: unknown, path: string, options: readonly T[]): T {
  if (!options.includes(v as T)) fail(path, `must be one of ${options.join(', ')}, got ${show(v)}`);
  return v as T;
}

function string(v: unknown, path: string): string {
  if (typeof v !== 'string') fail(path, `must be a string, got ${show(v)}`);
  return v;
}

function nonEmpty(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') fail(path, `must be a non-empty string (a file path), got ${show(v)}`);
  return v;
}

function boolean(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, `must be true or false, got ${show(v)}`);
  return v;
}
