// What `hv run` shares between one guest and several: the options every
// guest of a run takes, reading inputs, and turning results into an exit
// status and statistics.
import { parseSize, SizeError } from '../../drivers/board/size.ts';
import type { ClockMode } from '../machine/clock.ts';
import type { ExitReason, MachineStats, PagingMode, RunResult } from '../machine/machine.ts';
import { integerOption, intOption, optionValue, pagingOption, timeoutOption, type Parsed } from './args.ts';
import { EXIT_SOFTWARE, EXIT_TIMEOUT, UsageError } from './errors.ts';
import type { MigrateTarget } from '../migrate/source.ts';
import { parseTarget } from './migrate.ts';
import { moveDiskOption, stepCounts, type LiveOptions } from './live-ops.ts';

/** Options every guest of a run shares. */
export interface CommonOptions {
  ramSize: number;
  harts: number;
  paging: PagingMode;
  clock: ClockMode;
  timeout?: string;
  timeoutMs?: number;
  maxInsns?: number;
  stats: boolean;
  /** hv run --save FILE [--save-after-insns N]: save the guest there (after N steps, on Ctrl-A s or SIGUSR1). */
  save?: { path: string; afterSteps?: number };
  /** hv run --migrate-to HOST:PORT [--migrate-after-insns N]: live-migrate the guest there (runtime/cli/migrate.ts). */
  migrate?: { target: MigrateTarget; afterSteps?: number; linkRate?: number };
  /** hv run --snapshot-dir / --move-disk: live snapshots and storage migration (live-ops.ts). */
  live?: LiveOptions;
  /** hv run --control PATH: the control socket of the threaded host (docs/control.md). */
  control?: string;
  /** hv run --balloon-policy auto: the automatic balloon policy (HostController.balloonPolicy). */
  balloonPolicy?: boolean;
}

export function commonOptions(args: Parsed): CommonOptions {
  let ramSize = 128 << 20;
  const m = optionValue(args, 'm');
  if (m !== undefined) {
    try {
      ramSize = parseSize(m);
    } catch (e) {
      if (e instanceof SizeError) throw new UsageError(`-m: ${e.message}`);
      throw e;
    }
  }
  const maxInsns = intOption(args, 'max-insns', 1, Number.MAX_SAFE_INTEGER);
  const saveAfter = intOption(args, 'save-after-insns', 1, Number.MAX_SAFE_INTEGER);
  const savePath = optionValue(args, 'save');
  if (saveAfter !== undefined && savePath === undefined) throw new UsageError('--save-after-insns needs --save FILE');
  const migrate = migrateOptions(args, savePath !== undefined);
  const live = liveOptions(args);
  const control = optionValue(args, 'control');
  const policy = optionValue(args, 'balloon-policy');
  if (policy !== undefined && policy !== 'auto' && policy !== 'off') throw new UsageError(`--balloon-policy takes auto or off, not '${policy}'`);
  return {
    ramSize,
    harts: integerOption(args, 'smp') ?? 1, // its range is a partition spec's rule (runtime/host/spec.ts)
    paging: pagingOption(optionValue(args, 'paging')),
    // A step limit is only repeatable on the icount clock: realtime timers
    // would fire at different steps on every run.
    clock: args.options.has('icount') || maxInsns !== undefined || saveAfter !== undefined || migrate?.afterSteps !== undefined || live?.stepped ? 'icount' : 'realtime',
    timeout: optionValue(args, 'timeout'),
    timeoutMs: timeoutOption(args),
    maxInsns,
    stats: args.options.has('stats'),
    ...(savePath === undefined ? {} : { save: { path: savePath, afterSteps: saveAfter } }),
    ...(live ? { live: live.options } : {}),
    ...(migrate ? { migrate } : {}),
    ...(control === undefined ? {} : { control }),
    ...(policy === 'auto' ? { balloonPolicy: true } : {}),
  };
}

/** --migrate-to HOST:PORT [--migrate-after-insns N] [--migrate-link-rate KB/s]. */
function migrateOptions(args: Parsed, saving: boolean): CommonOptions['migrate'] {
  const to = optionValue(args, 'migrate-to');
  const afterSteps = intOption(args, 'migrate-after-insns', 1, Number.MAX_SAFE_INTEGER);
  const kbps = intOption(args, 'migrate-link-rate', 1, 100_000_000);
  if (to === undefined) {
    if (afterSteps !== undefined || kbps !== undefined) throw new UsageError('--migrate-after-insns and --migrate-link-rate need --migrate-to HOST:PORT');
    return undefined;
  }
  if (saving) throw new UsageError('--save and --migrate-to both end the run here: give one');
  // KB/s (1000 bytes) is bytes per ms.
  return { target: parseTarget(to), afterSteps, ...(kbps === undefined ? {} : { linkRate: kbps }) };
}

/** --snapshot-dir DIR [--snapshot-after-insns N]... and --move-disk [N=]PATH [--move-after-insns N]; `stepped` when a step count is given. */
function liveOptions(args: Parsed): { options: LiveOptions; stepped: boolean } | undefined {
  const dir = optionValue(args, 'snapshot-dir');
  const snapAfter = stepCounts(args.options.get('snapshot-after-insns'), 'snapshot-after-insns');
  const move = optionValue(args, 'move-disk');
  const moveAfter = intOption(args, 'move-after-insns', 1, Number.MAX_SAFE_INTEGER);
  if (snapAfter.length && dir === undefined) throw new UsageError('--snapshot-after-insns needs --snapshot-dir DIR');
  if (moveAfter !== undefined && move === undefined) throw new UsageError('--move-after-insns needs --move-disk PATH');
  if (dir === undefined && move === undefined) return undefined;
  return {
    options: {
      ...(dir === undefined ? {} : { snapshot: { dir, afterSteps: snapAfter } }),
      ...(move === undefined ? {} : { move: { ...moveDiskOption(move), afterSteps: moveAfter } }),
    },
    stepped: snapAfter.length > 0 || moveAfter !== undefined,
  };
}

export { isElf, readInput } from '../machine/setup.ts';

/** A guest's result as the process exit status (and a line on stderr where it needs one). */
export function exitStatus(result: RunResult, limits: { timeout?: string; maxInsns?: number }, who = 'guest'): number {
  switch (result.kind) {
    case 'exit':
      return result.code;
    case 'reset':
      process.stderr.write(`hv: ${who} requested a ${result.type ? result.type + ' ' : ''}reset\n`);
      return 0;
    case 'stopped':
      process.stderr.write(`hv: every hart of the ${who} stopped (SBI HSM hart_stop)\n`);
      return 1;
    case 'timeout':
      process.stderr.write(`hv: ${who}: timeout after ${limits.timeout} s\n`);
      return EXIT_TIMEOUT;
    case 'off':
      process.stderr.write(`hv: ${who} was turned off\n`);
      return 1;
    case 'crashed':
      process.stderr.write(`hv: ${who} stopped: the root partition failed servicing it: ${result.message}\n`);
      return EXIT_SOFTWARE;
    case 'memory-exhausted':
      process.stderr.write(`hv: ${who} stopped: ${result.error}: ${result.message}\n`);
      return 1;
    case 'saved':
    case 'migrated':
      return 0;
    case 'insn-limit':
      process.stderr.write(`hv: ${who}: stopped at the --max-insns limit of ${limits.maxInsns} steps\n`);
      return EXIT_TIMEOUT;
  }
}

/** --stats on stderr; `exits`: VM exits to the root partition by reason (threaded runs). */
export function printStats(s: MachineStats, prefix = 'hv: ', exits?: Record<ExitReason, number>): void {
  const lines = [
    `instructions  ${s.instructions}`,
    `seconds       ${s.seconds.toFixed(3)}`,
    `MIPS          ${s.mips.toFixed(1)}`,
    `TLB misses    ${s.tlbMisses} (${s.instructions ? ((100 * s.tlbMisses) / s.instructions).toFixed(4) : 0}% of instructions)`,
    `TLB flushes   ${s.tlbFlushes} whole, ${s.tlbInvals} precise (by page or ASID)`,
    `page walks    ${s.pageWalks} (${s.walkRefs} PTE reads)`,
    `G-stage walks ${s.gstageWalks} (${s.gstageRefs} PTE reads)`,
    `shadow fills  ${s.shadowFills}, write-protect faults ${s.wpFaults}, shadow flushes ${s.shadowFlushes}`,
    `traps         ${s.traps}`,
    `interrupts    ${s.interrupts}`,
    `MMIO exits    ${s.mmioExits}`,
    `SBI calls     ${s.sbiCalls}`,
  ];
  if (exits) {
    const n = exits.mmio + exits.sbi + exits.htif + exits.memory + exits.swap + exits.other;
    lines.push(`VM exits      ${n} to the root partition (device ${exits.mmio}, SBI ${exits.sbi}, HTIF ${exits.htif}${exits.memory ? `, no memory ${exits.memory}` : ''}${exits.swap ? `, swap-in ${exits.swap}` : ''})`);
  }
  if (s.memory) {
    const { pages: p, host: h, balloon: b } = s.memory;
    lines.push(
      `memory pages  ${p.private} private${p.pinned ? ` (${p.pinned} pinned for VMBus)` : ''}, ${p.shared} shared, ${p.zero} zero, ${p.ballooned} ballooned, ${p.unpopulated} unpopulated${p.swapped ? `, ${p.swapped} swapped` : ''}; ${p.cowBreaks} COW breaks`,
      `page sharing  ${h.pagesShared} shared frames for ${h.pagesSharing} pages, ${h.zeroPages} zero pages, ${(h.bytesSaved / 2 ** 20).toFixed(1)} MiB saved (host); ${h.fullScans} full scans, ${h.pagesScanned} pages scanned`,
    );
    if (b) lines.push(`balloon       target ${(b.targetBytes / 2 ** 20).toFixed(1)} MiB, guest keeps ${(b.actualBytes / 2 ** 20).toFixed(1)} MiB`);
    const w = s.memory.swap;
    if (w) {
      const us = (ns: number) => (ns / 1000).toFixed(1);
      lines.push(
        `swap          ${w.swapped} pages out now (${w.fileSlots} slots in the file); ${w.swappedOut} swapped out, ${w.swappedIn} in (${s.swapExits} on vCPU exits), ` +
          `${us(w.swappedIn ? w.swapInNsTotal / w.swappedIn : 0)} us each (worst ${us(w.swapInNsMax)} us)${w.writeErrors ? `; ${w.writeErrors} writes failed` : ''}`,
      );
    }
  }
  process.stderr.write(lines.map((l) => `${prefix}${l}\n`).join(''));
}
