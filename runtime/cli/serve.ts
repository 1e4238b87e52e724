// `hv serve`: a host that accepts live migrations (docs/migration.md). Each
// TCP connection brings one partition (runtime/migrate/target.ts); it runs
// here once the whole stream arrived, was checked, and the source let go.
//
//   hv serve [--port N] [--host ADDR]          threaded host: runs what arrives until
//                                              every partition received has finished
//   hv serve --deterministic [--max-insns N]   one partition, on the round-robin host
//                                              (an --icount guest continues exactly)
import { createServer, type Server, type Socket } from 'node:net';
import { Host } from '../host/host.ts';
import type { PartitionSpec } from '../host/spec.ts';
import { MigrationError } from '../migrate/errors.ts';
import { migrateIn, threadedTarget, type FailAt, type TargetHost } from '../migrate/target.ts';
import { loadedState } from '../migrate/state.ts';
import { encodeMemory } from '../persist/memory.ts';
import type { LoadedSave } from '../persist/partition.ts';
import { intOption, optionValue, pagingOption, parseArgs, timeoutOption } from './args.ts';
import type { CommonOptions } from './common.ts';
import { attachConsole } from './console.ts';
import { IncomingConsole } from './serve-console.ts';
import { UsageError } from './errors.ts';
import { runPartitions } from './partitions.ts';
import { ControlServer } from '../control/server.ts';

const SPEC = {
  port: { value: true },
  host: { value: true },
  deterministic: { value: false },
  pcpus: { value: true },
  paging: { value: true },
  'max-insns': { value: true },
  save: { value: true },
  'save-after-insns': { value: true },
  timeout: { value: true },
  'fail-at': { value: true },
  control: { value: true },
  help: { value: false },
  h: { value: false },
} as const;

const HELP = `usage: hv serve [options]

Accepts partitions live-migrated by hv run --migrate-to (or HostController.migrate)
and runs them. Prints "hv: listening on HOST:PORT" on stderr when ready.

  --port N           TCP port (default 4444; 0: any free port)
  --host ADDR        address to listen on (default 127.0.0.1)
  --pcpus N          physical-CPU threads of the host (default: this machine's parallelism)
  --paging MODE      run what arrives with direct, nested or shadow paging (default: as sent)
  --deterministic    receive one partition and run it on this thread in a fixed
                     order, with the clock it was sent with: a guest migrated from
                     an --icount run continues exactly; then exit with its status
  --max-insns N      (deterministic) stop after N steps in all, counted from the guest's start
  --save FILE        (deterministic) save it after --save-after-insns N steps in all
  --save-after-insns N
  --timeout SECONDS  stop after this long (exit status 124)
  --control PATH     (threaded) listen on a Unix socket at PATH for hv control
                     (docs/control.md): what arrived, its channels, KVP, shutdown...
  --fail-at PHASE    testing: drop the connection at handshake, pre-copy,
                     stop-and-copy or confirm (the source must run on unharmed)

Exit status: the deterministic partition's, or 0 once every partition received
has finished (threaded); 1 when a deterministic stream failed.
`;

const PHASES: readonly FailAt[] = ['handshake', 'pre-copy', 'stop-and-copy', 'confirm'];

export async function serveCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  if (args.options.has('help') || args.options.has('h')) {
    process.stdout.write(HELP);
    return 0;
  }
  if (args.positionals.length) throw new UsageError('hv serve takes no FILE');
  const port = intOption(args, 'port', 0, 65535) ?? 4444;
  const address = optionValue(args, 'host') ?? '127.0.0.1';
  const failAt = optionValue(args, 'fail-at') as FailAt | undefined;
  if (failAt !== undefined && !PHASES.includes(failAt)) throw new UsageError(`--fail-at: one of ${PHASES.join(', ')}`);
  const paging = optionValue(args, 'paging');
  const deterministic = args.options.has('deterministic');
  const saveAfter = intOption(args, 'save-after-insns', 1, Number.MAX_SAFE_INTEGER);
  const savePath = optionValue(args, 'save');
  if (saveAfter !== undefined && savePath === undefined) throw new UsageError('--save-after-insns needs --save FILE');
  if (!deterministic && (savePath !== undefined || args.options.has('max-insns'))) {
    throw new UsageError('--max-insns and --save count steps on the deterministic host (--deterministic)');
  }
  const pcpus = intOption(args, 'pcpus', 1, 64);
  if (deterministic && pcpus !== undefined) throw new UsageError('--pcpus runs the threaded host; --deterministic runs round-robin on one thread');
  const timeoutMs = timeoutOption(args);
  const control = optionValue(args, 'control');
  if (deterministic && control !== undefined) throw new UsageError('--control drives the threaded host; --deterministic runs round-robin on one thread');
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new UsageError(`cannot listen on ${address}:${port}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
    server.listen(port, address, resolve);
  });
  const bound = server.address() as { port: number };
  process.stderr.write(`hv: listening on ${address}:${bound.port}\n`);
  const common = {
    timeout: optionValue(args, 'timeout'),
    timeoutMs,
    maxInsns: intOption(args, 'max-insns', 1, Number.MAX_SAFE_INTEGER),
    stats: false,
    ...(savePath === undefined ? {} : { save: { path: savePath, afterSteps: saveAfter } }),
  };
  const pagingOverride = paging === undefined ? undefined : pagingOption(paging);
  if (deterministic) return serveDeterministic(server, common, pagingOverride, failAt);
  return serveThreaded(server, pcpus, pagingOverride, failAt, control);
}

/** The next connection. */
function accept(server: Server): Promise<Socket> {
  return new Promise((resolve) => server.once('connection', (s: Socket) => resolve(s)));
}

async function serveDeterministic(
  server: Server,
  common: Pick<CommonOptions, 'timeout' | 'timeoutMs' | 'maxInsns' | 'stats' | 'save'>,
  paging: PartitionSpec['paging'] | undefined,
  failAt: FailAt | undefined,
): Promise<number> {
  const socket = await accept(server);
  server.close();
  let save: LoadedSave | undefined;
  let ram = new Uint8Array(0);
  const host: TargetHost = {
    reserve: async (bytes) => (ram = new Uint8Array(bytes)),
    prepare: async (state) => {
      // Checked here as restore checks a file; loaded by runPartitions below.
      save = { ...loadedState(state.meta, state.records), memory: encodeMemory(ram) };
      return 0;
    },
    start: async () => {},
    discard: async () => {
      save = undefined;
      ram = new Uint8Array(0);
    },
  };
  try {
    await migrateIn(socket, host, failAt);
  } catch (e) {
    if (!(e instanceof MigrationError)) throw e;
    process.stderr.write(`hv: incoming ${e.message}\n`);
    return 1;
  }
  const s = save!;
  const spec = paging === undefined ? s.spec : { ...s.spec, paging };
  const o: CommonOptions = { ...common, ramSize: spec.memory, harts: spec.vcpus, paging: spec.paging, clock: s.meta.clock === 'icount' ? 'icount' : 'realtime' };
  return runPartitions([spec], o, { deterministic: true }, s);
}

async function serveThreaded(
  server: Server,
  pcpus: number | undefined,
  paging: PartitionSpec['paging'] | undefined,
  failAt: FailAt | undefined,
  controlPath: string | undefined,
): Promise<number> {
  const h = await Host.start({ pcpus, memoryBytes: 1 << 30 });
  const running = new Set<number>();
  let received = false;
  const quit = () => void h.close().finally(() => process.exit(0));
  let control: ControlServer | undefined;
  try {
    control = controlPath === undefined ? undefined : await ControlServer.listen({ path: controlPath, host: h, kind: 'serve', quit });
  } catch (e) {
    server.close();
    await h.close();
    throw e;
  }
  const input = new IncomingConsole((id, b) => void h.input(id, b));
  const detach = attachConsole((b) => input.type(b), quit);
  const out = (bytes: Uint8Array) => process.stdout.write(bytes);
  let status = 0;
  try {
    await new Promise<void>((done) => {
      server.on('connection', (socket: Socket) => {
        migrateIn(socket, threadedTarget(h, out, { paging, starting: (id) => input.starting(id) }), failAt).then(
          async (id) => {
            received = true;
            running.add(id);
            control?.refresh();
            let last = id;
            let r = await h.wait(last);
            // A revert through the control socket replaced it (docs/control.md): serve its successor.
            for (let next = await control?.successor(last); next !== undefined; next = await control?.successor(last)) {
              last = next;
              r = await h.wait(last);
            }
            running.delete(id);
            if (r.kind === 'exit' && r.code !== 0 && status === 0) status = r.code;
            if (running.size === 0 && received) {
              server.close();
              done();
            }
          },
          (e: Error) => process.stderr.write(`hv: incoming ${e.message}\n`),
        );
      });
    });
    return status;
  } finally {
    detach();
    await control?.close();
    await h.close();
  }
}
