// The source side of a live migration (docs/migration.md): handshake,
// pre-copy rounds over the dirty log (kernel/mm/dirty.ts), convergence with
// auto-converge throttling, stop-and-copy, and the target's confirmation.
// The host the partition runs on (deterministic or threaded) plugs in
// through SourcePartition. On any failure the partition is resumed and its
// throttle lifted before the error is thrown: it runs on unharmed.
import { connect, type Socket } from 'node:net';
import type { KernelExports } from '../host/kernel.ts';
import type { PartitionSpec } from '../host/spec.ts';
import type { SaveMeta } from '../persist/partition.ts';
import type { StateRecord } from '../persist/record.ts';
import { MigrationError, type MigrationPhase } from './errors.ts';
import { bitmapPages, nonZeroPages, pagePayloads } from './pages.ts';
import { encodeState } from './state.ts';
import { encodeFrame, expect, FrameReader, jsonFrame, PAGE_SIZE, parseJson, send, WIRE_VERSION } from './wire.ts';

export interface MigrateTarget {
  host: string;
  port: number;
}

export interface SourcePartition {
  id: number;
  kernel: KernelExports;
  memory: WebAssembly.Memory;
  ram: Uint8Array;
  /** The partition's spec (the handshake tells the target what it will receive). */
  spec: PartitionSpec;
  /**
   * Stop pre-copying now? (`converged`: the rest fits the downtime, or the
   * rounds ran out; the threaded host stops then, the deterministic one at
   * its step if it was given one.)
   */
  shouldStop(converged: boolean, round: number): boolean;
  /**
   * Lets the guest run between two rounds. Default: 5 ms of the running
   * guest's time (threaded host). The deterministic host runs it a fixed
   * number of steps here, fewer when throttled, so that every round falls
   * on the same step in every run.
   */
  between?(): Promise<void>;
  /** A reason to give up (the guest ended meanwhile), or undefined. */
  cancelled(): string | undefined;
  /** vCPUs off their pCPUs and device accesses done. */
  pause(): Promise<void>;
  /** Runs it again after a failure. */
  resume(): Promise<void>;
  /** Caps it at `percent` of its vCPUs' time (auto-converge); 0 lifts the cap. */
  throttle(percent: number): void;
  /** The paused partition's META and records, disks flushed (runtime/persist captureState). */
  capture(): { meta: SaveMeta; records: StateRecord[] };
  /** The target runs it: this copy ends (its disks closed). */
  release(): void;
}

export interface MigrateOptions {
  /** Downtime to aim for, ms (QEMU's downtime-limit; default 30). */
  maxDowntimeMs?: number;
  /** Pre-copy rounds before stopping anyway (default 30). */
  maxRounds?: number;
  /**
   * The link's rate for the convergence estimates, bytes per ms, instead of
   * measuring it: a link known to be slower than loopback, or a test that
   * needs the decisions (expected downtime, auto-converge) to be exact.
   */
  linkRate?: number;
  /** Progress lines: rounds, dirty rate, remaining bytes, expected downtime. */
  progress?: (line: string) => void;
}

export interface MigrateInfo {
  rounds: number;
  /** Bytes of RAM sent, over all rounds. */
  bytes: number;
  totalMs: number;
  /** From the pause to the target's confirmation that it runs. */
  downtimeMs: number;
  /** The throttle auto-converge reached (percent of the partition's time taken away). */
  throttle: number;
  /** Where the downtime went, in order (ms each; they add up to downtimeMs). */
  downtimePhases: [string, number][];
}

/** How long the paused source waits for the target's RDY (and, informational, DONE). */
const CONFIRM_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function migrateOut(target: MigrateTarget, part: SourcePartition, options: MigrateOptions = {}): Promise<MigrateInfo> {
  const maxDowntime = options.maxDowntimeMs ?? 30;
  const maxRounds = options.maxRounds ?? 30;
  const k = part.kernel;
  const t0 = performance.now();
  let phase: MigrationPhase = 'connect';
  let socket: Socket | undefined;
  let paused = false;
  let throttle = 0;
  try {
    socket = await open(target);
    const sock = socket;
    const reader = new FrameReader(sock);
    phase = 'handshake';
    await send(sock, jsonFrame('HELO', { version: WIRE_VERSION, spec: part.spec, ramSize: part.ram.length }), phase);
    await expect(reader, 'ACPT', phase);

    phase = 'pre-copy';
    if (!k.dirtyLogStart(part.id)) throw new MigrationError(phase, 'no host frames for the dirty log');
    await synced(part);
    const pages = part.ram.length / PAGE_SIZE;
    const bitmap = () => new Uint32Array(part.memory.buffer, k.dirtyLogBitmap(part.id), Math.ceil(pages / 32));
    const sendPages = async (list: number[]) => {
      for (const payload of pagePayloads(part.ram, list)) {
        const c = part.cancelled();
        if (c) throw new MigrationError(phase, c);
        await send(sock, encodeFrame('PAGE', payload), phase);
      }
    };
    let bytes = 0;
    let round = 0;
    let linkRate = options.linkRate ?? 0; // bytes per ms
    let roundStart = performance.now();
    let list = nonZeroPages(part.ram); // round 0: what is not zero (the target's RAM starts zeroed)
    let slow = 0;
    for (;;) {
      const sendStart = performance.now();
      await sendPages(list);
      const sendMs = Math.max(0.01, performance.now() - sendStart);
      const sent = list.length * PAGE_SIZE;
      bytes += sent;
      if (sent >= 64 * PAGE_SIZE && options.linkRate === undefined) linkRate = sent / sendMs;
      round++;
      const c = part.cancelled();
      if (c) throw new MigrationError(phase, c);
      // The target says nothing during pre-copy: a closed stream is a target that gave up.
      if (reader.ended !== undefined) throw new MigrationError(phase, reader.ended);
      // Let the guest run a little between rounds.
      if (part.between) await part.between();
      else if (performance.now() - roundStart < 5) await sleep(5);
      const ended = part.cancelled();
      if (ended) throw new MigrationError(phase, ended);
      const dirty = k.dirtyLogFetch(part.id);
      await synced(part);
      const roundMs = performance.now() - roundStart;
      roundStart = performance.now();
      const dirtyBytes = dirty * PAGE_SIZE;
      const expected = linkRate ? dirtyBytes / linkRate : 0;
      options.progress?.(
        `round ${round}: dirty ${(dirtyBytes / 1024 / Math.max(roundMs, 0.001)).toFixed(1)} MB/s, ` +
          `${(dirtyBytes / 1024).toFixed(0)} KiB left, expected downtime ${expected.toFixed(1)} ms` +
          (throttle ? `, throttled ${throttle}%` : ''),
      );
      list = bitmapPages(bitmap(), pages);
      const converged = expected <= maxDowntime;
      if (part.shouldStop(converged || round >= maxRounds, round)) break;
      // Auto-converge (QEMU): the guest dirtied more than half of what the
      // round sent, twice in a row: take 20% of its time away, then 10% more
      // each time it does so again.
      slow = !converged && dirtyBytes > sent / 2 ? slow + 1 : 0;
      if (slow >= 2) {
        slow = 0;
        throttle = Math.min(99, throttle ? throttle + 10 : 20);
        part.throttle(throttle);
      }
    }
    // The last round's dirty pages go while the guest still runs: the stop
    // then copies only what it dirties meanwhile (QEMU's last iteration
    // is the same), not that whole set during the downtime.
    await sendPages(list);
    bytes += list.length * PAGE_SIZE;

    phase = 'stop-and-copy';
    const down = new PhaseClock();
    await part.pause();
    paused = true;
    down.mark('pause');
    k.dirtyLogFetch(part.id); // the last set: nothing runs now, no sync needed
    list = bitmapPages(bitmap(), pages);
    k.dirtyLogStop(part.id);
    const { meta, records } = part.capture();
    down.mark('capture');
    // The last pages and the state go out back to back: one wait for the
    // socket, not one per frame (each would be a turn of this thread).
    const writes = [...pagePayloads(part.ram, list)].map((payload) => send(sock, encodeFrame('PAGE', payload), phase));
    writes.push(send(sock, encodeFrame('STOP', encodeState(meta, records)), phase));
    bytes += list.length * PAGE_SIZE;
    down.mark(`encode ${list.length} pages + state`);
    await Promise.all(writes);
    down.mark('send');

    phase = 'confirm';
    // Paused, the guest waits for the answer: not forever (the target may
    // hang); the catch below resumes it, and the target, its stream cut
    // before GO, discards its copy.
    const ready = await expect(reader, 'RDY ', phase, CONFIRM_MS);
    down.split('target checks and builds', Number(parseJson(ready, phase).prepareMs) || 0, 'to the target and back');
    // Stopped meanwhile (the host shuts down): no GO, the target discards its copy.
    const stopped = part.cancelled();
    if (stopped) throw new MigrationError(phase, stopped);
    // Point of no return: the target holds the whole partition and waits
    // for this copy to let go; it starts on GO.
    part.release();
    down.mark('release');
    await send(sock, encodeFrame('GO  '), phase).catch(() => {});
    // Informational: the guest is the target's now.
    const done = await expect(reader, 'DONE', phase, CONFIRM_MS).then((f) => parseJson(f, phase), () => ({}) as Record<string, unknown>);
    down.split('target starts', Number(done.startMs) || 0, 'GO/DONE round trip');
    sock.end();
    return { rounds: round, bytes, totalMs: performance.now() - t0, downtimeMs: down.total(), throttle, downtimePhases: down.phases };
  } catch (e) {
    socket?.destroy();
    k.dirtyLogStop(part.id);
    if (throttle) part.throttle(0);
    if (paused) await part.resume();
    if (e instanceof MigrationError) throw e;
    throw new MigrationError(phase, (e as Error).message, { cause: e });
  }
}

function open(target: MigrateTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: target.host, port: target.port });
    s.setNoDelay(true);
    const fail = (e: Error) => reject(new MigrationError('connect', `cannot connect to ${target.host}:${target.port} (${(e as NodeJS.ErrnoException).code ?? e.message})`, { cause: e }));
    s.once('error', fail);
    s.once('connect', () => {
      s.off('error', fail);
      s.on('error', () => {}); // reported through the reader and send()
      resolve(s);
    });
  });
}

/** How long the vCPUs may take to answer a dirty-log sync (a loaded host can keep a pCPU thread off its core for a while). */
const SYNC_MS = 5000;

/** Waits until every vCPU has dropped its store TLB after the last arm/fetch. */
async function synced(part: SourcePartition): Promise<void> {
  const deadline = performance.now() + SYNC_MS;
  while (!part.kernel.dirtyLogSynced(part.id)) {
    if (performance.now() > deadline) throw new MigrationError('pre-copy', 'the vCPUs did not answer the dirty-log sync');
    await new Promise<void>((r) => setImmediate(r));
  }
}

/** Where the downtime goes: the time since the last mark, phase by phase. */
class PhaseClock {
  readonly phases: [string, number][] = [];
  private readonly start = performance.now();
  private last = this.start;

  mark(name: string): void {
    const now = performance.now();
    this.phases.push([name, now - this.last]);
    this.last = now;
  }

  /** Since the last mark, of which `ms` (the other side's own figure) went to `name` and the rest to `rest`. */
  split(name: string, ms: number, rest: string): void {
    const now = performance.now();
    const part = Math.min(ms, now - this.last);
    this.phases.push([name, part], [rest, now - this.last - part]);
    this.last = now;
  }

  total(): number {
    return this.last - this.start;
  }
}
