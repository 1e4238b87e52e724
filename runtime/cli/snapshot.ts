// `hv snapshot`: the snapshot tree a run took with --snapshot-dir DIR
// (docs/migration.md, "Snapshots").
//
//   hv snapshot list DIR                 the tree; "* now" is where the partition runs
//   hv snapshot revert DIR ID [opts]     run from snapshot ID, on a new differencing disk
//                                        (the state since the last revert is given up)
//   hv snapshot delete DIR ID            drop snapshot ID, merging its disk
//   hv snapshot clone DIR ID NEWDIR [opts]
//                                        a linked clone: run from snapshot ID on a
//                                        differencing disk of its own in NEWDIR
//
// revert and clone take hv restore's options, and --snapshot-after-insns N
// to take further snapshots into the tree they run from.
import { resolve } from 'node:path';
import { cloneSnapshot, deleteSnapshot, readManifest, revertSnapshot, snapshotTree } from '../persist/snapshot.ts';
import { parseArgs, type Parsed } from './args.ts';
import { UsageError } from './errors.ts';
import { stepCounts } from './live-ops.ts';
import { runSaved, SAVED_RUN_SPEC } from './restore.ts';

const SPEC = {
  ...SAVED_RUN_SPEC,
  'snapshot-after-insns': { value: true, repeat: true },
  name: { value: true },
} as const;

const HELP = `usage: hv snapshot list DIR
       hv snapshot revert DIR ID [options]
       hv snapshot delete DIR ID
       hv snapshot clone DIR ID NEWDIR [--name NAME] [options]

DIR is a snapshot directory (hv run --snapshot-dir DIR). revert runs the guest
from snapshot ID (an id or a name) on new differencing disks over the
snapshot's, as Hyper-V's Apply: the disks it ran on since are deleted.
delete drops snapshot ID and merges its disk into the one branch after it.
clone runs a linked clone from snapshot ID: its own differencing disks in
NEWDIR, the snapshot's disks shared (they cannot be deleted while it exists).

revert and clone take hv restore's options (--max-insns, --save, --pcpus,
--deterministic, --paging, --timeout, --stats) and
  --snapshot-after-insns N   take a snapshot into the tree it runs from after
                             N steps (repeatable; deterministic host)
`;

export async function snapshotCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help') {
    process.stdout.write(HELP);
    return sub === undefined ? 2 : 0;
  }
  const args = parseArgs(rest, SPEC);
  const want = (n: number, what: string) => {
    if (args.positionals.length !== n) throw new UsageError(`snapshot ${sub}: give ${what}`);
    return args.positionals;
  };
  switch (sub) {
    case 'list': {
      const [dir] = want(1, 'DIR');
      process.stdout.write(snapshotTree(readManifest(dir!)));
      return 0;
    }
    case 'delete': {
      const [dir, id] = want(2, 'DIR and a snapshot ID');
      deleteSnapshot(dir!, id!);
      return 0;
    }
    case 'revert': {
      const [dir, id] = want(2, 'DIR and a snapshot ID');
      const { save, discard } = revertSnapshot(dir!, id!);
      discard();
      return runSaved(save, args, liveOptions(args, dir!));
    }
    case 'clone': {
      const [dir, id, newDir] = want(3, 'DIR, a snapshot ID and NEWDIR');
      const name = (args.options.get('name') ?? [])[0] ?? `${readManifest(dir!).partition.slice(0, 24)}-clone`;
      return runSaved(cloneSnapshot(dir!, id!, newDir!, name), args, liveOptions(args, newDir!));
    }
    default:
      throw new UsageError(`unknown subcommand '${sub}' (list, revert, delete, clone)`);
  }
}

function liveOptions(args: Parsed, dir: string) {
  const steps = stepCounts(args.options.get('snapshot-after-insns'), 'snapshot-after-insns');
  return steps.length ? { snapshot: { dir: resolve(dir), afterSteps: steps } } : undefined;
}
