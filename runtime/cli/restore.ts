// `hv restore FILE`: starts a guest saved by `hv run --save FILE` (or an
// earlier restore) again, in this process, where it stopped: console,
// timers and disks continue (docs/migration.md).
//
// A guest saved on the icount clock runs on on the deterministic
// round-robin host, instruction-exact; others on the threaded host, as
// `hv run` does (--deterministic and --pcpus N choose). Step counts
// continue: --max-insns and --save-after-insns count from the guest's first
// step, not from the restore.
import { readSave, type LoadedSave } from '../persist/partition.ts';
import { intOption, optionValue, pagingOption, parseArgs, timeoutOption, type Parsed } from './args.ts';
import type { CommonOptions } from './common.ts';
import { UsageError } from './errors.ts';
import { runPartitions } from './partitions.ts';

/** The options of a run from saved state (hv restore, hv snapshot revert and clone). */
export const SAVED_RUN_SPEC = {
  timeout: { value: true },
  'max-insns': { value: true },
  save: { value: true },
  'save-after-insns': { value: true },
  paging: { value: true },
  pcpus: { value: true },
  deterministic: { value: false },
  stats: { value: false },
  control: { value: true },
  help: { value: false },
  h: { value: false },
} as const;

const HELP = `usage: hv restore FILE [options]

Starts the guest saved in FILE (hv run --save) where it stopped. Its disks
must be the images it was saved with, unchanged since. A guest saved on the
icount clock (--icount, --max-insns, --save-after-insns) runs on the
deterministic host and continues exactly as it would have; others run on
--pcpus threads, as hv run does.

  --pcpus N          physical-CPU threads (default: this machine's parallelism)
  --deterministic    every vCPU on this thread in a fixed order, with the clock
                     the guest was saved with

  --max-insns N      (deterministic) stop after N steps in all (counted from the guest's start,
                     as the saved run counted them): exit status 124
  --save FILE        save it again, after --save-after-insns N steps in all,
                     or on Ctrl-A s or SIGUSR1
  --save-after-insns N
  --paging MODE      direct, nested or shadow (default: as saved; the guest
                     cannot tell)
  --timeout SECONDS  stop after this long (exit status 124)
  --stats            print instructions, MIPS, TLB and exit figures on stderr
  --control PATH     (threaded) listen on a Unix socket at PATH for hv control
                     (docs/control.md)

Exit status: the guest's, 124 on a limit, 2 for a file that cannot be
restored (truncated, corrupt, another version, changed disks).
`;

export async function restoreCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SAVED_RUN_SPEC);
  if (args.options.has('help') || args.options.has('h')) {
    process.stdout.write(HELP);
    return 0;
  }
  if (args.positionals.length !== 1) throw new UsageError('give one save FILE');
  return runSaved(readSave(args.positionals[0]!), args);
}

/**
 * Runs the partition of `save` on from its state, as `args` (SAVED_RUN_SPEC)
 * say; `live`: snapshots into a directory on the way (hv snapshot).
 */
export async function runSaved(save: LoadedSave, args: Parsed, live?: CommonOptions['live']): Promise<number> {
  const saveAfter = intOption(args, 'save-after-insns', 1, Number.MAX_SAFE_INTEGER);
  const savePath = optionValue(args, 'save');
  if (saveAfter !== undefined && savePath === undefined) throw new UsageError('--save-after-insns needs --save FILE');
  const paging = optionValue(args, 'paging');
  const timeoutMs = timeoutOption(args);
  const deterministic = args.options.has('deterministic') || (save.meta.clock === 'icount' && !args.options.has('pcpus'));
  const pcpus = intOption(args, 'pcpus', 1, 64);
  if (deterministic && pcpus !== undefined) throw new UsageError('--pcpus runs the threaded host; a restore with --deterministic runs round-robin on one thread');
  if (!deterministic && (saveAfter !== undefined || args.options.has('max-insns'))) {
    throw new UsageError('--max-insns and --save-after-insns count steps on the deterministic host (--deterministic)');
  }
  const control = optionValue(args, 'control');
  if (deterministic && control !== undefined) throw new UsageError('--control drives the threaded host; this restore runs on the deterministic one (--pcpus N runs it threaded)');
  const spec = paging === undefined ? save.spec : { ...save.spec, paging: pagingOption(paging) };
  const o: CommonOptions = {
    ramSize: spec.memory,
    harts: spec.vcpus,
    paging: spec.paging,
    // A saved sched clock (the kernel scheduler's) continues as realtime: its
    // time moves on from the saved mtime either way.
    clock: deterministic && save.meta.clock === 'icount' ? 'icount' : 'realtime',
    timeout: optionValue(args, 'timeout'),
    timeoutMs,
    maxInsns: intOption(args, 'max-insns', 1, Number.MAX_SAFE_INTEGER),
    stats: args.options.has('stats'),
    ...(savePath === undefined ? {} : { save: { path: savePath, afterSteps: saveAfter } }),
    ...(live ? { live } : {}),
    ...(control === undefined ? {} : { control }),
  };
  if (live && !deterministic) throw new UsageError('snapshots at a step count are taken on the deterministic host');
  return runPartitions([spec], o, { deterministic, pcpus }, save);
}
