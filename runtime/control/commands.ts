// The control channel's commands: one table from a command's name to the
// HostController verb it runs (runtime/host/controller.ts), with the
// arguments it takes. A verb added to HostController needs one line here:
// `verb` names the method, `args` are its parameters in order, `options`
// the fields of its trailing options object (named as the verb names them).
// `call` is for the few whose shape the generic path does not fit.
//
// Partition arguments arrive resolved to ids (dispatch.ts); `event` is
// emitted to every client once the command succeeded.
import type { HostController } from '../host/controller.ts';
import type { ArgSpec } from './arguments.ts';
import type { EventName } from './protocol.ts';

/** What a command may use besides the host: the server's own verbs. */
export interface CommandContext {
  host: HostController;
  /** Ends the host, after this command's reply went out. */
  quit(): void;
}

export interface CommandSpec {
  help: string;
  /** The verb's parameters, in order. */
  args?: ArgSpec[];
  /** Optional; passed as the verb's last parameter, an object (omitted ones left out). */
  options?: ArgSpec[];
  verb?: keyof HostController;
  /** The values are checked against `args`/`options` before this is called. */
  call?: (c: CommandContext, ...values: any[]) => Promise<unknown> | unknown;
  /** Other names `hv control` accepts. */
  aliases?: string[];
  event?: EventName;
  /** It returns the id of a partition that takes the place of its `partition` (or `target`) argument. */
  replaces?: boolean;
}

const partition: ArgSpec = { name: 'partition', type: 'partition', help: 'its id or name' };
const dir: ArgSpec = { name: 'dir', type: 'path', help: 'the snapshot directory' };
const paging: ArgSpec = { name: 'paging', type: 'choice', choices: ['direct', 'nested', 'shadow'], help: 'run it with this paging mode' };

export const COMMANDS: Record<string, CommandSpec> = {
  list: { help: 'the partitions: id, name, state, vCPUs, memory, paging, instructions', verb: 'list', aliases: ['status'] },
  stats: { help: "a partition's figures: instructions, TLB, exits, vCPUs, VMBus", verb: 'stats', args: [partition] },
  pcpus: { help: "the physical CPUs' figures: busy, idle, runs, switches, steals", verb: 'pcpuStats' },
  'host-memory': { help: "the host's memory: frame pool size and use, vCPU blocks, the root thread's heap, page sharing", verb: 'hostMemory' },
  'root-busy': { help: "milliseconds the root partition's thread has been busy since the host started", verb: 'rootBusyMs' },
  endpoints: { help: 'the VMBus endpoint worker: channels lent to it, wake-ups that served a guest', verb: 'endpointStats' },
  start: { help: 'run a created partition (one reverted to a snapshot)', verb: 'start', args: [partition] },
  pause: { help: 'keep its vCPUs off every pCPU, state intact', verb: 'pause', args: [partition], event: 'partition-paused' },
  resume: { help: 'run a paused partition on', verb: 'resume', args: [partition], event: 'partition-resumed' },
  stop: { help: 'turn it off now (as pulling the plug)', verb: 'stop', args: [partition] },
  reset: { help: 'reboot it now (hard reset, as the reset button): a fresh boot, its VMBus new', verb: 'reset', args: [partition] },
  input: {
    help: 'type text into its console',
    args: [partition, { name: 'text', type: 'string', help: 'what to type' }],
    call: (c, id: number, text: string) => c.host.input(id, new TextEncoder().encode(text)),
  },
  channels: { help: 'its VMBus channels: device, state, bytes waiting in each ring', verb: 'channels', args: [partition] },
  'kvp-read': { help: "the guest's KVP pools, and the keys the host pushed", verb: 'kvpRead', args: [partition] },
  'kvp-write': {
    help: "push a key into the guest's external KVP pool",
    verb: 'kvpWrite',
    args: [partition, { name: 'key', type: 'string', help: 'the key' }, { name: 'value', type: 'string', help: 'its value' }],
  },
  heartbeat: { help: "the heartbeat IC: state, the guest's last sequence number and answer", verb: 'heartbeat', args: [partition] },
  'guest-shutdown': {
    help: 'ask the guest to shut down (or restart) through its shutdown IC',
    verb: 'guestShutdown',
    args: [partition],
    options: [{ name: 'reboot', type: 'boolean', help: 'restart instead' }],
    aliases: ['shutdown'],
    event: 'guest-shutdown',
  },
  'switch-ports': { help: "the virtual switch's ports: each NIC's MAC, frames and bytes each way, drops", verb: 'switchPorts' },
  balloon: {
    help: 'ask the guest to keep this much of its RAM (--overcommit)',
    verb: 'balloon',
    args: [partition, { name: 'target', type: 'size', help: 'RAM to keep: bytes, or "64M"' }],
  },
  'swap-out': {
    help: "evict this many of the guest's least recently used pages to its swap file now (--swap)",
    verb: 'swapOut',
    args: [partition, { name: 'pages', type: 'integer', help: 'pages (4 KiB) at most' }],
  },
  'balloon-policy': {
    help: "the automatic balloon policy: switch it on (with its knobs) or --off; returns what is in force",
    options: [
      { name: 'budgetBytes', type: 'size', help: 'guest RAM the targets share (default: what they add up to now)' },
      { name: 'stepBytes', type: 'size', help: "a partition's target moves at most this much a step (default 16M)" },
      { name: 'bufferPercent', type: 'integer', help: "headroom over a guest's use, percent (default 20)" },
      { name: 'intervalMs', type: 'integer', help: 'ms between steps (default 1000)' },
      { name: 'off', type: 'boolean', help: 'switch it off' },
    ],
    call: (c, { off, ...o }: { off?: boolean }) => c.host.balloonPolicy(off ? null : o),
  },
  'add-disk': {
    help: 'hot add an image as a synthetic SCSI disk on VMBus; returns its channel relid',
    args: [partition, { name: 'path', type: 'path', help: 'the image' }],
    options: [
      { name: 'format', type: 'choice', choices: ['raw', 'vpc'], help: 'raw or vpc (VHD); default: probed' },
      { name: 'readonly', type: 'boolean', help: 'the guest cannot write it' },
    ],
    call: (c, id: number, path: string, o: { format?: 'raw' | 'vpc'; readonly?: boolean }) => c.host.addVmbusDisk(id, { ...o, path, if: 'vmbus' }),
  },
  'add-nic': {
    help: 'hot add a synthetic NIC on VMBus, a new port of the virtual switch; returns its channel relid',
    args: [partition],
    options: [{ name: 'mac', type: 'string', help: 'its MAC, like 52:54:00:12:34:56; default: made from the partition name and NIC index' }],
    verb: 'addVmbusNic',
  },
  'remove-device': {
    help: 'hot remove a VMBus device: its offer is rescinded (a disk add-disk added is closed, a NIC leaves the switch)',
    verb: 'removeVmbusDevice',
    args: [partition, { name: 'relid', type: 'integer', help: 'its channel (channels lists them)' }],
    aliases: ['remove-disk', 'remove-nic'],
  },
  'move-disk': {
    help: "move a disk to a new image while the guest runs (storage migration)",
    verb: 'moveDisk',
    args: [partition, { name: 'disk', type: 'integer', help: 'its index, in -drive order' }, { name: 'path', type: 'path', help: 'the new image (.vhd: dynamic VHD)' }],
  },
  snapshot: {
    help: 'take a live snapshot into a directory; the guest runs on',
    verb: 'snapshot',
    args: [partition, dir],
    options: [{ name: 'name', type: 'string', help: "the snapshot's name" }],
  },
  'list-snapshots': { help: 'the snapshot tree of a directory', verb: 'listSnapshots', args: [dir] },
  revert: {
    help: 'replace a partition (or a tree no partition runs on) with a snapshot; returns the new, created partition',
    args: [{ name: 'target', type: 'target', help: 'a partition that took snapshots, or a snapshot directory' }, { name: 'snapshot', type: 'string', help: 'its id or name' }],
    options: [paging],
    replaces: true,
    // The new partition's console goes where the replaced one's went.
    call: (c, target: number | string, snapshot: string, o: { paging?: 'direct' | 'nested' | 'shadow' }) => c.host.revert(target, snapshot, undefined, o),
  },
  'delete-snapshot': { help: 'drop a snapshot, merging its disk', verb: 'deleteSnapshot', args: [dir, { name: 'snapshot', type: 'string', help: 'its id or name' }] },
  save: {
    help: 'save a partition to a file (hv restore starts it again) and end it there',
    args: [partition, { name: 'path', type: 'path', help: 'the save file' }],
    // As hv run's Ctrl-A s: paused first; if the save fails it runs on.
    call: async (c, id: number, path: string) => {
      const running = (await c.host.list()).find((p) => p.id === id)?.state === 'running';
      if (running) await c.host.pause(id);
      try {
        return await c.host.save(id, path);
      } catch (e) {
        if (running) await c.host.resume(id).catch(() => {});
        throw e;
      }
    },
  },
  migrate: {
    help: 'live-migrate a partition to the hv serve at HOST:PORT; if it fails the guest runs on here',
    verb: 'migrate',
    args: [partition, { name: 'to', type: 'endpoint', help: 'HOST:PORT of the target' }],
    options: [
      { name: 'maxDowntimeMs', type: 'integer', help: 'the stop-and-copy budget' },
      { name: 'linkRate', type: 'integer', help: 'KB/s to plan with instead of the measured rate' },
    ],
  },
  quit: { help: 'end the host (as Ctrl-A x): disks are closed, the partitions end', call: (c) => c.quit() },
  commands: { help: 'these commands, with their arguments', call: () => describeCommands() },
};

/** The table as data, for clients (QMP's query-commands). */
function describeCommands() {
  const arg = (a: ArgSpec) => ({ name: a.name, type: a.type, ...(a.choices ? { choices: a.choices } : {}), help: a.help });
  return Object.entries(COMMANDS).map(([name, c]) => ({
    name, help: c.help, args: (c.args ?? []).map(arg), options: (c.options ?? []).map(arg), ...(c.aliases ? { aliases: c.aliases } : {}),
  }));
}

/** The command a name stands for (its own or an alias), or undefined. */
export function commandNamed(name: string): [string, CommandSpec] | undefined {
  if (Object.hasOwn(COMMANDS, name)) return [name, COMMANDS[name]!];
  const found = Object.entries(COMMANDS).find(([, c]) => c.aliases?.includes(name));
  return found;
}
