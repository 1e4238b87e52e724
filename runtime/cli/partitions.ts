// Running the partitions of an `hv run`, in one of two host modes:
//
//  - threaded (the default): a Host (runtime/host/host.ts) with --pcpus
//    worker threads running the kernel's scheduler and the root partition's
//    worker running the devices; the CLI drives it through HostController.
//  - deterministic (--deterministic, implied by --icount and --max-insns):
//    every vCPU on this thread in a fixed order (runtime/host/hypervisor.ts),
//    so the same guests and input give the same run: round-robin, or with
//    --pcpus N the kernel scheduler's deterministic mode on N pCPUs.
//
// One partition writes its console as is; several get a line prefix each.
// The exit status is the first failing partition's (in order), or 0.
import { defaultJitMode, JIT_MODES, type JitMode, printJitStats } from '../jit/tier.ts';
import { basename } from 'node:path';
import { Host } from '../host/host.ts';
import { Hypervisor } from '../host/hypervisor.ts';
import { schedExports } from '../host/sched.ts';
import type { PartitionSpec } from '../host/spec.ts';
import type { PartitionStats, PcpuStats, SwitchPortStatus } from '../host/controller.ts';
import type { ExitReason, MachineStats, RunResult } from '../machine/machine.ts';
import { closeDisks, hostPoolBytes, setupPartition } from '../machine/setup.ts';
import type { BlockDevice } from '../../drivers/block/device.ts';
import { attachConsole } from './console.ts';
import { type CommonOptions, exitStatus, printStats } from './common.ts';
import { setLongTimeout } from './timer.ts';
import { restorePartition, savePartition, type LoadedSave } from '../persist/partition.ts';
import { DeterministicMigration, describeMigration } from './migrate.ts';
import { liveRun, threadedLive } from './live-ops.ts';
import { ControlServer } from '../control/server.ts';
import { channelStatus, icStatus, statusLines } from '../../drivers/vmbus/status.ts';
import { guestShutdown } from '../../drivers/vmbus/ic-control.ts';
import { nicPorts } from '../../drivers/vmbus/netvsc.ts';
import { portLine, type PortInfo } from '../../drivers/net/vswitch.ts';
import type { Machine } from '../machine/machine.ts';

/** The step limit of a run: --max-insns, or --save-after-insns if it comes first. */
function stepLimit(o: CommonOptions): number | undefined {
  const after = o.save?.afterSteps ?? o.migrate?.afterSteps;
  if (after === undefined) return o.maxInsns;
  return o.maxInsns === undefined ? after : Math.min(after, o.maxInsns);
}

/** Writes a partition's console a line at a time, each line prefixed with its name. */
export class PrefixedConsole {
  private partial = '';
  constructor(
    private readonly prefix: string,
    private readonly write: (text: string) => void,
  ) {}
  push(bytes: Uint8Array): void {
    const text = this.partial + Buffer.from(bytes).toString('latin1');
    const lines = text.split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) this.write(`${this.prefix}${line}\n`);
  }
  flush(): void {
    if (this.partial) this.write(`${this.prefix}${this.partial}\n`);
    this.partial = '';
  }
}

/** Names for the partitions: the file names, made valid partition names (spec.ts) and unique. */
export function partitionNames(files: readonly string[]): string[] {
  const base = files.map((f) => basename(f).replace(/\.elf$/, '').replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 28) || 'guest');
  return base.map((b, i) => (base.filter((x) => x === b).length > 1 ? `${b}#${base.slice(0, i).filter((x) => x === b).length}` : b));
}

export interface HostMode {
  /** The JIT tier of every kernel instance (docs/jit.md); default off. */
  jit?: JitMode;
  /** Every vCPU on this thread, in a fixed order. */
  deterministic: boolean;
  /** pCPU threads (threaded mode); undefined: the machine's parallelism. */
  pcpus?: number;
  /** --host-memory: the frame pool's size (setup.ts hostPoolBytes); undefined: enough for every partition. */
  hostMemory?: number;
}

export interface Consoles {
  sinks: ((bytes: Uint8Array) => void)[];
  flush(): void;
}

/** Console sinks for `specs`: stdout as is for one partition, prefixed lines for several. */
export function consoles(specs: readonly PartitionSpec[]): Consoles {
  const out = (t: string | Uint8Array) => process.stdout.write(t);
  if (specs.length === 1) return { sinks: [out], flush: () => {} };
  const width = Math.max(...specs.map((s) => s.name.length));
  const prefixed = specs.map((s) => new PrefixedConsole(`[${s.name.padEnd(width)}] `, out));
  return { sinks: prefixed.map((c) => (b: Uint8Array) => c.push(b)), flush: () => prefixed.forEach((c) => c.flush()) };
}

/** Host memory of the last run with the JIT on: its counters for --stats. */
let jitMemory: WebAssembly.Memory | undefined;

/** Runs every partition at once until each has finished; returns the exit status. */
export async function runPartitions(specs: readonly PartitionSpec[], o: CommonOptions, mode: HostMode, restore?: LoadedSave): Promise<number> {
  const out = consoles(specs);
  let results: { result: RunResult; stats: MachineStats; threaded?: PartitionStats; vmbus?: PartitionStats['vmbus']; ports?: PortInfo[] }[];
  let endpoint: ThreadedRun['endpoint'] | undefined;
  try {
    if (mode.deterministic) results = await runDeterministic(specs, o, out, mode.pcpus, restore, mode.jit, mode.hostMemory);
    else {
      const run = await runThreaded(specs, o, mode.pcpus, out, restore, mode.jit, mode.hostMemory);
      endpoint = run.endpoint;
      results = run.partitions.map((p) => ({ result: p.result, stats: p.stats.totals, threaded: p.stats, vmbus: p.stats.vmbus, ports: p.ports }));
    }
  } finally {
    out.flush();
  }
  let status = 0;
  results.forEach(({ result, stats, threaded, vmbus, ports }, i) => {
    const who = specs.length === 1 ? 'guest' : `partition ${specs[i]!.name}`;
    if (o.stats) {
      const prefix = specs.length === 1 ? 'hv: ' : `hv [${specs[i]!.name}]: `;
      printStats(stats, prefix, threaded && sumExits(threaded));
      if (mode.jit && mode.jit !== 'off' && jitMemory) printJitStats(jitMemory, stats.instructions, prefix);
      if (threaded) printVcpuStats(threaded, prefix);
      if (vmbus) process.stderr.write(statusLines(vmbus.channels, vmbus.ics).map((l) => `${prefix}${l}\n`).join(''));
      if (ports) process.stderr.write(ports.map((p) => `${prefix}${portLine(p)}\n`).join(''));
    }
    const s = exitStatus(result, o, who);
    if (s !== 0 && status === 0) status = s;
  });
  // The host's, not a partition's: printed once, when it served anything.
  if (o.stats && endpoint?.lends) process.stderr.write(`hv: endpoint worker: VMBus channels lent ${endpoint.lends}, wake-ups that served a guest's signal ${endpoint.serves}\n`);
  return status;
}

/** One line per vCPU of a threaded run: where it ran and what the scheduler did with it. */
function printVcpuStats(s: PartitionStats, prefix: string): void {
  const lines = s.vcpuStats.map(
    (v) =>
      `vCPU ${v.index}        last on pCPU ${v.pcpu}, ${v.instructions} instructions, ${v.picks} slices, ${v.migrations} migrations, ` +
      `${v.wakes} wake-ups, VM exits ${v.exits.mmio + v.exits.sbi + v.exits.htif + v.exits.memory + v.exits.other}`,
  );
  process.stderr.write(lines.map((l) => `${prefix}${l}\n`).join(''));
}

/** A partition's VM exits by reason, over its vCPUs. */
export function sumExits(s: PartitionStats): Record<ExitReason, number> {
  const sum = { mmio: 0, sbi: 0, htif: 0, memory: 0, swap: 0, other: 0 };
  for (const v of s.vcpuStats) for (const k of Object.keys(sum) as ExitReason[]) sum[k] += v.exits[k];
  return sum;
}

/**
 * Closes disks however the run ends (guest exit, Ctrl-A x, a signal):
 * closing flushes, so every write the guest completed reaches the image.
 */
function onInterrupt(cleanup: () => void | Promise<void>): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    void Promise.resolve(cleanup()).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** Ctrl-A g: what the guest's shutdown IC said, on stderr. */
function reportShutdown(ask: () => Promise<void>): void {
  // A missing IC throws at once: a rejection too.
  Promise.resolve()
    .then(ask)
    .then(
      () => process.stderr.write('\nhv: the guest accepted the shutdown request\n'),
      (e: Error) => process.stderr.write(`\nhv: cannot shut the guest down gracefully: ${e.message}\n`),
    );
}

/** A deterministic run's partition: its VMBus channels and ICs for --stats. */
function vmbusOf(m: Machine): PartitionStats['vmbus'] {
  return m.vmbus && { channels: channelStatus(m.vmbus, m.memory, m.config.vmbus ?? []), ics: icStatus(m.config.vmbus ?? []) };
}

/** Every vCPU on this thread: round-robin, or on the kernel scheduler with `pcpus` pCPUs. */
async function runDeterministic(
  specs: readonly PartitionSpec[], o: CommonOptions, out: Consoles, pcpus?: number, restore?: LoadedSave, jit: JitMode = defaultJitMode(), hostMemory?: number,
) {
  const start = performance.now(); // the timeout runs from here: set-up reads the images
  const timeoutMs = () => (o.timeoutMs === undefined ? undefined : Math.max(0, o.timeoutMs - (performance.now() - start)));
  const hv = new Hypervisor(hostPoolBytes(specs, hostMemory));
  hv.setJit(jit);
  jitMemory = hv.memory;
  const disks: BlockDevice[] = [];
  let closed = false;
  const close = () => {
    if (!closed) closeDisks(disks);
    closed = true;
  };
  process.on('exit', close);
  const detachSignals = onInterrupt(close);
  try {
    const machines = specs.map((spec, i) => {
      const options = { onConsole: out.sinks[i]!, clock: pcpus ? ('sched' as const) : o.clock };
      const p = restore ? restorePartition(restore, hv, { ...options, paging: spec.paging }) : setupPartition(spec, hv, options);
      disks.push(...p.disks);
      p.machine.limit(stepLimit(o));
      return p.machine;
    });
    // --save: after N steps, or when asked (Ctrl-A s, SIGUSR1), the guest
    // stops at a step limit of its current count (the end of this round).
    let saveAsked = false;
    const askSave = () => {
      if (!o.save || saveAsked) return;
      saveAsked = true;
      machines[0]!.limit(machines[0]!.steps());
    };
    if (o.save) process.on('SIGUSR1', askSave);
    // --migrate-to (migrate.ts): pre-copy between the guest's slices, stop-and-copy where the run stops.
    const migration = o.migrate && new DeterministicMigration(machines[0]!, specs[0]!, o.migrate.target, { afterSteps: o.migrate.afterSteps, maxInsns: o.maxInsns, linkRate: o.migrate.linkRate }, disks);
    const askMigrate = () => migration && migration.start();
    if (migration) process.on('SIGUSR1', askMigrate);
    // Live snapshots and disk moves (live-ops.ts): one guest, round-robin.
    const live = o.live && liveRun(machines[0]!, { spec: specs[0]!, disks }, stepLimit(o), o.live, () => hv.run({ timeoutMs: timeoutMs() }));
    const askSnapshot = live ? () => live.askSnapshot() : undefined;
    if (askSnapshot) process.on('SIGUSR2', askSnapshot);
    // Keyboard input goes to the first partition's console.
    // Ctrl-A g: between rounds (stdin is read when the run yields), on the thread the IC runs on.
    const askShutdown = () => reportShutdown(() => guestShutdown(machines[0]!.config.vmbus));
    const detach = attachConsole((b) => machines[0]!.input(b), undefined, o.save ? askSave : migration ? askMigrate : undefined, askSnapshot, askShutdown);
    try {
      if (pcpus) {
        const sched = schedExports(hv.kernel.exports);
        const params = (id: number) => {
          const p = specs[machines.findIndex((m) => m.id === id)]!.sched;
          sched.schedSetParams(id, p.weight, p.cap, p.reservation);
        };
        await hv.runScheduled(pcpus, { timeoutMs: timeoutMs(), params });
      } else if (o.live) {
        await live!.run();
      } else if (migration) {
        await migration.drive(() => hv.run({ timeoutMs: timeoutMs() }));
      } else {
        await hv.run({ timeoutMs: timeoutMs() });
      }
    } finally {
      detach();
      if (o.save) process.off('SIGUSR1', askSave);
      if (migration) process.off('SIGUSR1', askMigrate);
      if (askSnapshot) process.off('SIGUSR2', askSnapshot);
    }
    const m = machines[0]!;
    if (o.save && m.result?.kind === 'insn-limit' && (saveAsked || o.maxInsns === undefined || m.steps() < o.maxInsns)) {
      const info = savePartition(o.save.path, m, specs[0]!, close);
      out.flush();
      process.stderr.write(
        `hv: saved the guest at step ${m.steps()} to ${o.save.path}: ${(info.bytes / 2 ** 20).toFixed(1)} MiB ` +
          `(${info.pages} of ${Math.ceil(m.config.ramSize / 4096)} pages stored) in ${info.ms.toFixed(0)} ms\n`,
      );
      m.result = { kind: 'saved', path: o.save.path };
    } else if (o.save?.afterSteps !== undefined && m.result?.kind !== 'insn-limit') {
      process.stderr.write(`hv: the guest ended before step ${o.save.afterSteps}: not saved\n`);
    }
    return machines.map((m) => ({ result: m.result ?? ({ kind: 'timeout' } as const), stats: m.stats(), vmbus: vmbusOf(m), ports: nicPorts(m.config.vmbus ?? []) }));
  } finally {
    detachSignals();
    process.off('exit', close);
    close();
  }
}

/** What a threaded run leaves: each partition's result and statistics, and the pCPUs' figures. */
export interface ThreadedRun {
  /** `ports`: the partition's NICs on the virtual switch, with their counters. */
  partitions: { result: RunResult; stats: PartitionStats; ports: SwitchPortStatus[] }[];
  pcpus: PcpuStats[];
  /** The host's endpoint worker: VMBus channels lent to it and its wake-ups that served a signal (docs/vmbus.md). */
  endpoint: { lends: number; serves: number };
}

/** Runs `specs` at once on a threaded host with `pcpus` pCPU threads until each has finished. */
export async function runThreaded(
  specs: readonly PartitionSpec[],
  o: Pick<CommonOptions, 'timeoutMs' | 'save' | 'migrate' | 'live' | 'control' | 'balloonPolicy'>,
  pcpus: number | undefined,
  out: Consoles,
  restore?: LoadedSave,
  jit: JitMode = defaultJitMode(),
  hostMemory?: number,
): Promise<ThreadedRun> {
  // The timeout runs from here: creating partitions reads their images.
  const ids: number[] = [];
  let timedOut = false;
  let host: Host | undefined;
  const cancelTimer =
    o.timeoutMs === undefined
      ? () => {}
      : setLongTimeout(() => {
          timedOut = true;
          ids.forEach((id) => void host?.stop(id, 'timeout'));
        }, o.timeoutMs);
  // Host memory: the cap, or what the partitions need and slack for the shadow tables' pool.
  const memoryBytes = hostPoolBytes(specs, hostMemory) + (hostMemory === undefined ? 4 << 20 : 0);
  try {
    host = await Host.start({ pcpus, memoryBytes, jit });
  } catch (e) {
    cancelTimer();
    throw e;
  }
  const h = host;
  jitMemory = h.memory;
  const detachSignals = onInterrupt(() => h.close());
  // Ctrl-A x, and hv control's quit: the root partition closes (flushes) the disks before the process ends.
  const quit = () => void h.close().finally(() => process.exit(0));
  let control: ControlServer | undefined;
  try {
    // --control PATH (docs/control.md): before the partitions, so a socket that cannot be had fails the run at once.
    if (o.control !== undefined) control = await ControlServer.listen({ path: o.control, host: h, kind: 'run', quit });
    for (const [i, spec] of specs.entries()) {
      // A snapshot's revert or clone runs on new children of the saved disks, a clone under a name of its own.
      const as = restore?.otherDisks ? { disks: spec.disks, name: spec.name } : {};
      ids.push(restore ? await h.restore(restore.path, out.sinks[i]!, { paging: spec.paging, ...as }) : await h.create(spec, out.sinks[i]!));
      if (timedOut) await h.stop(ids.at(-1)!, 'timeout');
    }
    control?.refresh();
    // --save FILE: Ctrl-A s or SIGUSR1 pauses the guest and saves it (its run ends there).
    let saving = false;
    const askSave = () => {
      if (!o.save || saving) return;
      saving = true;
      const { path } = o.save;
      void (async () => {
        try {
          await h.pause(ids[0]!);
          const info = await h.save(ids[0]!, path);
          process.stderr.write(`hv: saved the guest to ${path}: ${(info.bytes / 2 ** 20).toFixed(1)} MiB (${info.pages} pages stored) in ${info.ms.toFixed(0)} ms\n`);
        } catch (e) {
          process.stderr.write(`hv: cannot save the guest: ${(e as Error).message}\n`);
          await h.resume(ids[0]!).catch(() => {});
          saving = false;
        }
      })();
    };
    if (o.save) process.on('SIGUSR1', askSave);
    // --migrate-to: Ctrl-A s or SIGUSR1 starts a live migration; if it fails the guest runs on.
    let migrating = false;
    let migrated: Promise<unknown> = Promise.resolve();
    const askMigrate = () => {
      const mig = o.migrate;
      if (!mig || migrating) return;
      migrating = true;
      const to = `${mig.target.host}:${mig.target.port}`;
      migrated = h.migrate(ids[0]!, mig.target, { progress: true, linkRate: mig.linkRate }).then(
        (info) => process.stderr.write(describeMigration(info, to)),
        (e: Error) => {
          process.stderr.write(`hv: ${e.message}; the guest runs on here\n`);
          migrating = false;
        },
      );
    };
    if (o.migrate) process.on('SIGUSR1', askMigrate);
    // --snapshot-dir (Ctrl-A n, SIGUSR2) and --move-disk: live-ops.ts.
    const live = o.live && threadedLive(h, ids[0]!, o.live);
    const askSnapshot = live?.askSnapshot;
    if (askSnapshot) process.on('SIGUSR2', askSnapshot);
    const detach = attachConsole(
      (b) => void h.input(ids[0]!, b),
      quit,
      o.save ? askSave : o.migrate ? askMigrate : undefined,
      askSnapshot,
      () => reportShutdown(() => h.guestShutdown(ids[0]!)),
    );
    try {
      for (const id of ids) if (!timedOut) await h.start(id); // a timed-out partition is stopped: not started
      if (o.balloonPolicy) await h.balloonPolicy({});
      live?.startMove();
      const partitions = [];
      for (let i = 0; i < ids.length; i++) {
        let result = await h.wait(ids[i]!);
        // A revert through the control socket replaced it (docs/control.md): the run goes on with its successor.
        for (let next = await control?.successor(ids[i]!); next !== undefined; next = await control?.successor(ids[i]!)) {
          ids[i] = next;
          result = await h.wait(next);
        }
        partitions.push({ result, stats: await h.stats(ids[i]!) });
      }
      await live?.settled();
      // The guest leaves at the target's RDY; the migration ends at its DONE: reported before the host closes.
      await migrated;
      const ports = await h.switchPorts();
      return {
        partitions: partitions.map((p, i) => ({ ...p, ports: ports.filter((q) => q.partition === ids[i]) })), pcpus: await h.pcpuStats(), endpoint: await h.endpointStats(),
      };
    } finally {
      detach();
      if (o.save) process.off('SIGUSR1', askSave);
      if (o.migrate) process.off('SIGUSR1', askMigrate);
      if (askSnapshot) process.off('SIGUSR2', askSnapshot);
    }
  } finally {
    cancelTimer();
    detachSignals();
    await control?.close();
    await h.close();
  }
}
