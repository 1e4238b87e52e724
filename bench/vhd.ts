// Benchmark: 1 MiB sequential and 4 KiB random (fixed large stride) reads
// and writes at queue depth 1 on a dynamic VHD, our driver against
// `qemu-img bench` on the same file (reads) or an identical fresh file
// (writes), both with writeback caching (flushes honoured). Prints one line
// per pattern with both throughputs and the ratio ours / qemu.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createVhdFile, openVhd } from '../drivers/vhd/chain.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const DISK = 32 * MiB;
const SMALL = 4 * KiB;
const LARGE = 1 * MiB;
/** A stride coprime with the number of 4 KiB slots: visits every slot once, far apart. */
const STRIDE = 7919 * SMALL;

interface Pattern {
  name: string;
  write: boolean;
  /** Request size in bytes; every pattern covers the whole disk once. */
  req: number;
  step: number;
  /** Run on a fresh disk (writes) or on the disk the sequential write filled (reads). */
  fresh: boolean;
}

const PATTERNS: Pattern[] = [
  { name: 'seq write 1M', write: true, req: LARGE, step: LARGE, fresh: true },
  { name: 'seq read 1M', write: false, req: LARGE, step: LARGE, fresh: false },
  { name: 'rand read 4K', write: false, req: SMALL, step: STRIDE, fresh: false },
  { name: 'rand write 4K', write: true, req: SMALL, step: STRIDE, fresh: true },
];

function qemuImgAvailable(): boolean {
  return spawnSync('qemu-img', ['--version'], { stdio: 'ignore' }).status === 0;
}

function freshDisk(file: string): void {
  createVhdFile(file, { size: DISK, type: 'dynamic' });
}

/** Seconds our driver takes for the pattern (writes include the final flush). */
function ours(file: string, p: Pattern): number {
  const disk = openVhd(file, { readOnly: !p.write });
  const buf = new Uint8Array(p.req).fill(p.write ? 0xa5 : 0);
  const start = process.hrtime.bigint();
  let off = 0;
  for (let i = 0; i < DISK / p.req; i++) {
    if (p.write) disk.write(off, buf);
    else disk.read(off, buf);
    off = (off + p.step) % DISK;
  }
  disk.flush();
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  disk.close();
  return secs;
}

/** Seconds qemu-img bench reports for the same pattern. */
function qemu(file: string, p: Pattern): number {
  const args = ['bench', '-f', 'vpc', '-t', 'writeback', '-d', '1', '-c', String(DISK / p.req), '-s', String(p.req), '-S', String(p.step)];
  if (p.write) args.push('-w', '--pattern=165');
  const out = execFileSync('qemu-img', [...args, file], { encoding: 'utf8' });
  const m = /Run completed in ([\d.]+) seconds/.exec(out);
  if (!m) throw new Error(`unexpected qemu-img bench output: ${out}`);
  return Number(m[1]);
}

const mibps = (secs: number): number => DISK / MiB / secs;

export async function benchVhd(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhd-bench-'));
  const withQemu = qemuImgAvailable();
  try {
    console.log(`vhd: dynamic VHD of ${DISK / MiB} MiB, each pattern covering it once, queue depth 1, writeback cache`);
    if (!withQemu) console.log('vhd: qemu-img not found, reporting our figures only (install qemu-utils to compare)');
    const mine = path.join(dir, 'ours.vhd');
    const theirs = path.join(dir, 'qemu.vhd');
    for (const p of PATTERNS) {
      if (p.fresh) {
        freshDisk(mine);
        freshDisk(theirs);
      }
      // Writes run once on a fresh disk; reads (page cache warm) best of two, for both engines.
      const runs = p.write ? 1 : 2;
      const a = mibps(Math.min(...Array.from({ length: runs }, () => ours(mine, p))));
      let line = `vhd: ${p.name.padEnd(13)} ours ${a.toFixed(1).padStart(8)} MiB/s`;
      if (withQemu) {
        // Reads run on our file (the one our sequential write filled); writes on a twin.
        const file = p.write ? theirs : mine;
        const b = mibps(Math.min(...Array.from({ length: runs }, () => qemu(file, p))));
        line += `   qemu-img ${b.toFixed(1).padStart(8)} MiB/s   ratio ${(a / b).toFixed(2)}`;
      }
      console.log(line);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
