// The JSON VM config of `hv run --config vm.json` (docs/vm-config.md): a host
// and the partitions it starts with, read into a HostSpec (runtime/host/spec.ts).
//
//   {
//     "pcpus": 2,                          optional, 1..64
//     "hostMemory": "256M",                optional: the host memory cap (docs/memory.md)
//     "partitions": [                      1..1024 of them
//       { "name": "web",                   default p<index>, [A-Za-z0-9_.#-]{1,32}, unique
//         "memory": "64M",                 bytes or a size string (default "128M"), a multiple of 4 KiB
//         "vcpus": 2,                      1..64 (default 1)
//         "paging": "nested",              direct | nested | shadow (default direct)
//         "boot": "enlightened",           firmware | enlightened (default firmware)
//         "bios": "fw.bin",                firmware boot only; "none" = absent
//         "kernel": "guests/bin/enlightened/hello.elf",   required
//         "append": "console=hvc0",
//         "initrd": "x.img",
//         "disks": [{ "path": "disk.vhd", "format": "vpc", "readonly": false, "if": "virtio" }],   at most 8 virtio, 16 vmbus
//         "nics": [{ "mac": "52:54:00:12:34:56" }],   at most 8, on the host's virtual switch (mac optional)
//         "vmbus": { "ic": ["heartbeat", "shutdown", "timesync", "kvp"], "kvp": { "HostName": "root" } },
//         "sched": { "weight": 512, "cap": 50, "reservation": 10 } }
//     ]
//   }
//
// Relative paths (kernel, bios, initrd, disks[].path) are relative to the
// config file's directory. Unknown keys are errors, and every error is a
// ConfigError whose message starts with the JSON path of the bad value.
// This file reads JSON into a HostSpec (keys, sizes, paths, defaults); the
// rules on the values are runtime/host/spec.ts's (checkHost), the same ones
// the command line goes through.
import { dirname, resolve } from 'node:path';
import { parseSize, SizeError } from '../../drivers/board/size.ts';
import { InputError } from '../errors.ts';
import { readBounded } from '../loader/input.ts';
import { checkHost, DEFAULT_SCHED, partitionSpec, show, SpecError, type HostSpec, type NicSpec, type PartitionSpec } from '../host/spec.ts';

/** A VM config that cannot be read, is not JSON, or breaks a rule. */
export class ConfigError extends InputError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** The largest config file read (a config of 1,024 partitions is about 100 KiB). */
const MAX_CONFIG_BYTES = 1 << 20;

const HOST_KEYS = ['pcpus', 'hostMemory', 'partitions'];
const PARTITION_KEYS = ['name', 'memory', 'vcpus', 'paging', 'boot', 'bios', 'kernel', 'append', 'initrd', 'disks', 'sched', 'reboot', 'overcommit', 'nics', 'vmbus'];
const VMBUS_KEYS = ['ic', 'kvp'];
const OVERCOMMIT_KEYS = ['salt', 'balloon', 'balloonTarget'];
const DISK_KEYS = ['path', 'format', 'readonly', 'if'];
const NIC_KEYS = ['mac'];
const SCHED_KEYS = ['weight', 'cap', 'reservation'];

type Obj = Record<string, unknown>;

/** Parses the text of a VM config; relative paths resolve against `baseDir`. */
export function parseVmConfig(text: string, baseDir: string): HostSpec {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    // V8 quotes the text around the error, newlines and all: keep the message one line.
    throw new ConfigError(`invalid JSON: ${oneLine((e as Error).message)}`, { cause: e });
  }
  const o = object(json, '', HOST_KEYS);
  const list = required(o, '', 'partitions');
  const host = {
    partitions: Array.isArray(list) ? list.map((p, i) => partition(p, `partitions[${i}]`, i, baseDir)) : list,
  } as HostSpec;
  if (o.pcpus !== undefined) host.pcpus = o.pcpus as number;
  if (o.hostMemory !== undefined) host.hostMemory = memory(o.hostMemory, 'hostMemory');
  try {
    return checkHost(host);
  } catch (e) {
    if (e instanceof SpecError) throw new ConfigError(e.message, { cause: e });
    throw e;
  }
}

/** Reads and parses the VM config file at `path`; errors start with the path. */
export function readVmConfig(path: string): HostSpec {
  let text: string;
  try {
    text = Buffer.from(readBounded(path, 'VM config', MAX_CONFIG_BYTES)).toString('utf8');
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

/** A partition's JSON as a PartitionSpec: keys checked, sizes parsed, paths resolved, defaults filled in. */
function partition(v: unknown, path: string, index: number, baseDir: string): PartitionSpec {
  const o = object(v, path, PARTITION_KEYS);
  const file = (value: unknown) => (typeof value === 'string' && value !== '' ? resolve(baseDir, value) : value) as string;
  const kernel = file(required(o, path, 'kernel'));
  const more: Partial<PartitionSpec> = {};
  for (const key of ['name', 'vcpus', 'paging', 'boot', 'append', 'reboot'] as const) if (o[key] !== undefined) (more as Obj)[key] = o[key];
  if (o.memory !== undefined) more.memory = memory(o.memory, at(path, 'memory'));
  if (o.bios !== undefined && o.bios !== 'none') more.bios = file(o.bios);
  if (o.initrd !== undefined) more.initrd = file(o.initrd);
  if (o.disks !== undefined) {
    more.disks = Array.isArray(o.disks)
      ? o.disks.map((d, i) => {
          const p = `${at(path, 'disks')}[${i}]`;
          const disk = object(d, p, DISK_KEYS);
          return { ...disk, path: file(required(disk, p, 'path')), readonly: disk.readonly ?? false } as PartitionSpec['disks'][number];
        })
      : (o.disks as PartitionSpec['disks']);
  }
  if (o.nics !== undefined) {
    more.nics = Array.isArray(o.nics) ? o.nics.map((n, i) => object(n, `${at(path, 'nics')}[${i}]`, NIC_KEYS) as NicSpec) : (o.nics as NicSpec[]);
  }
  if (o.vmbus !== undefined) more.vmbus = object(o.vmbus, at(path, 'vmbus'), VMBUS_KEYS) as PartitionSpec['vmbus'];
  if (o.overcommit !== undefined) {
    const oc = object(o.overcommit, at(path, 'overcommit'), OVERCOMMIT_KEYS);
    more.overcommit = { ...oc, ...(oc.balloonTarget !== undefined ? { balloonTarget: memory(oc.balloonTarget, at(at(path, 'overcommit'), 'balloonTarget')) } : {}) };
  }
  if (o.sched !== undefined) more.sched = { ...DEFAULT_SCHED, ...object(o.sched, at(path, 'sched'), SCHED_KEYS) } as PartitionSpec['sched'];
  return partitionSpec(`p${index}`, kernel, more);
}

/** Bytes: a JSON number of bytes or a size string ("64M", "1G"; a bare number string is MiB). */
function memory(v: unknown, path: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    try {
      return parseSize(v);
    } catch (e) {
      if (e instanceof SizeError) fail(path, e.message);
      throw e;
    }
  }
  fail(path, `must be a number of bytes or a size such as "128M", got ${show(v)}`);
}

// ---- checks on the JSON's shape: each returns the value or throws naming the path

function fail(path: string, message: string): never {
  throw new ConfigError(`${path || 'config'}: ${message}`);
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ');
}

/** The JSON path of `key` inside the object at `path` ('' is the top level). */
function at(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** `v` as an object whose keys are all in `known`. */
function object(v: unknown, path: string, known: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, `must be an object, got ${show(v)}`);
  for (const key of Object.keys(v)) {
    if (!known.includes(key)) fail(at(path, key), `unknown key (expected one of: ${known.join(', ')})`);
  }
  return v as Obj;
}

function required(o: Obj, path: string, key: string): unknown {
  if (o[key] === undefined) fail(at(path, key), 'missing (required)');
  return o[key];
}
