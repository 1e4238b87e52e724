// Live migration (docs/migration.md): a 128 MiB Linux guest (guests/linux)
// at its shell prompt while a loop dirties about 10 MB/s of its tmpfs, moved
// over loopback between two `hv` processes (hv run --migrate-to, hv serve;
// threaded, 1 pCPU each), then the same kernel, firmware (OpenSBI fw_jump)
// and workload moved between two `qemu-system-riscv64 -M virt` processes by
// QEMU's own migration (-incoming tcp: on the target, `migrate -d` on the
// source's monitor), in the same run. Prints rounds, bytes, total time and
// downtime for both, hv's downtime broken down by phase, and the ratios.
import { createConnection, createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { linuxImage, LinuxSession, OPENSBI } from '../test/support/linux.ts';
import { qemuAvailable } from './qemu.ts';

/** Migrations of each kind (HV_MIGRATE_RUNS overrides); the medians are compared. */
const RUNS = Number(process.env.HV_MIGRATE_RUNS ?? 3);
/**
 * The workload, typed at the prompt (each line short enough not to wrap on
 * the 80-column console): 1 MiB of random bytes made once, then copied
 * every 100 ms into the next of 16 tmpfs files, about 10 MB/s over 16 MiB of
 * pages, so that rounds keep finding new ones. /tmp/c counts the copies: it
 * shows the loop runs on in the target.
 */
const WORKLOAD = [
  'dd if=/dev/urandom of=/tmp/s bs=1M count=1 2>/dev/null; echo made',
  'w(){ cat /tmp/s >/tmp/d$(($1%16)); echo $1 >/tmp/c; usleep 99999; }',
  '(i=0; while :; do i=$((i+1)); w $i; done) &',
  'sleep 2; cat /tmp/c', // guest time for the loop to settle before the migration
];

interface Figures {
  rounds: number;
  mib: number;
  totalMs: number;
  downtimeMs: number;
  detail: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function startWorkload(guest: LinuxSession): Promise<void> {
  await guest.prompt();
  for (const line of WORKLOAD) await guest.run(line);
}

/**
 * Checks the moved guest: it answers, and its loop counts on (which needs
 * its timer: usleep). Returns what is wrong, or '' when nothing is.
 */
async function checkMoved(guest: LinuxSession): Promise<string> {
  // The first byte typed right after a move is sometimes lost (on hv and on
  // QEMU alike): an empty line first, so that it is only a newline.
  const from = guest.output.length;
  guest.console.type('\n');
  await guest.prompt(from, 10_000).catch(() => {});
  const a = Number((await guest.run('cat /tmp/c')).trim());
  await new Promise((r) => setTimeout(r, 2000));
  const b = Number((await guest.run('cat /tmp/c')).trim());
  return b > a && a > 0 ? '' : `the loop stopped on the target (${a}, 2 s later ${b}): the guest's timer does not fire`;
}

async function hvOnce(image: string): Promise<Figures> {
  const target = LinuxSession.serve(['--port', '0', '--pcpus', '1']);
  let source: LinuxSession | undefined;
  try {
    const port = Number(/listening on [\d.]+:(\d+)/.exec(await target.console.waitFor(/listening on [\d.]+:\d+/))![1]);
    source = LinuxSession.boot(image, 'opensbi', ['-m', '128M', '--pcpus', '1', '--migrate-to', `127.0.0.1:${port}`]);
    await startWorkload(source);
    const from = source.output.length;
    source.console.signal('SIGUSR1');
    const out = await source.console.waitFor(/migrated the guest to [^\n]*\n/, 120_000, from);
    const line = /migrated the guest to \S+: (\d+) rounds, ([\d.]+) MiB sent, total (\d+) ms, downtime ([\d.]+) ms( \([^)]*\))?/.exec(out.slice(from))!;
    const wrong = await checkMoved(target);
    if (wrong) throw new Error(`migrate: hv: ${wrong}`);
    target.console.type('poweroff\n');
    await target.console.exited;
    return { rounds: Number(line[1]), mib: Number(line[2]), totalMs: Number(line[3]), downtimeMs: Number(line[4]), detail: line[5]?.trim() ?? '' };
  } catch (e) {
    throw new Error(`${(e as Error).message}\nthe target's output:\n${target.output.slice(-2000)}`);
  } finally {
    source?.kill();
    target.kill();
  }
}

/** One command on a QEMU human monitor listening on a unix socket; resolves with its answer. */
function monitor(path: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let out = '';
    let sent = false;
    s.on('data', (d) => {
      out += d.toString('latin1');
      if (!sent && out.includes('(qemu) ')) {
        sent = true;
        out = '';
        s.write(command + '\n');
      } else if (sent && out.includes('(qemu) ')) {
        s.end();
        resolve(out);
      }
    });
    s.on('error', reject);
  });
}

async function qemuOnce(image: string, dir: string, n: number): Promise<Figures> {
  const port = await freePort();
  const sock = (name: string) => join(dir, `${name}-${n}.sock`);
  const args = (mon: string) => ['-M', 'virt', '-m', '128M', '-nographic', '-bios', OPENSBI, '-kernel', image, '-monitor', `unix:${mon},server,nowait`];
  const target = LinuxSession.qemu([...args(sock('target')), '-incoming', `tcp:127.0.0.1:${port}`]);
  const source = LinuxSession.qemu(args(sock('source')));
  try {
    await startWorkload(source);
    await monitor(sock('source'), `migrate -d tcp:127.0.0.1:${port}`);
    let info = '';
    for (let i = 0; !/Migration status: completed/.test(info); i++) {
      if (/Migration status: (failed|cancelled)/.test(info) || i > 3000) throw new Error(`qemu migration: ${info}`);
      await new Promise((r) => setTimeout(r, 20));
      info = await monitor(sock('source'), 'info migrate');
    }
    const num = (re: RegExp) => Number(re.exec(info)?.[1] ?? NaN);
    const wrong = await checkMoved(target);
    return {
      rounds: num(/dirty sync count: (\d+)/),
      mib: num(/transferred ram: (\d+) kbytes/) / 1024,
      totalMs: num(/total time: (\d+) ms/),
      downtimeMs: num(/downtime: (\d+) ms/),
      detail:
        `(zero pages ${num(/(?:duplicate|zero pages): (\d+)/)}, normal ${num(/normal: (\d+)/)}, throughput ${num(/throughput: ([\d.]+) mbps/)} Mbit/s)` +
        (wrong ? `; ${wrong}` : ''),
    };
  } finally {
    source.kill();
    target.kill();
  }
}

function report(name: string, runs: Figures[]): void {
  for (const r of runs) {
    console.log(`migrate: ${name}: ${r.rounds} rounds, ${r.mib.toFixed(1)} MiB, total ${r.totalMs.toFixed(0)} ms, downtime ${r.downtimeMs.toFixed(1)} ms ${r.detail}`);
  }
}

export async function benchMigrate(): Promise<void> {
  const image = linuxImage();
  if (!image) {
    console.log('migrate: build the guest first (sh guests/linux/build.sh)');
    return;
  }
  console.log(
    'migrate: Linux 6.12, 128 MiB, OpenSBI fw_jump, a loop dirtying ~10 MB/s of tmpfs, loopback; 1 pCPU per hv host; ' +
      `load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs`,
  );
  const hv: Figures[] = [];
  for (let i = 0; i < RUNS; i++) hv.push(await hvOnce(image));
  report('hv', hv);
  const hvDown = median(hv.map((r) => r.downtimeMs));
  const hvTotal = median(hv.map((r) => r.totalMs));
  console.log(`migrate: hv median: total ${hvTotal.toFixed(0)} ms, downtime ${hvDown.toFixed(1)} ms (target 30 ms)`);
  if (!qemuAvailable()) return;
  const dir = mkdtempSync(join(tmpdir(), 'hv-bench-migrate-'));
  const qemu: Figures[] = [];
  for (let i = 0; i < RUNS; i++) qemu.push(await qemuOnce(image, dir, i));
  report('qemu-system-riscv64 (defaults: downtime-limit 300 ms, 128 MiB/s)', qemu);
  const qDown = median(qemu.map((r) => r.downtimeMs));
  const qTotal = median(qemu.map((r) => r.totalMs));
  console.log(
    `migrate: qemu median: total ${qTotal.toFixed(0)} ms, downtime ${qDown.toFixed(1)} ms; ` +
      `hv/qemu = ${(hvTotal / qTotal).toFixed(2)} (total), ${(hvDown / qDown).toFixed(2)} (downtime)`,
  );
}
