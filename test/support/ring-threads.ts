// Two threads over one VMBus ring in shared memory: a writer and a reader,
// each with its own kernel instance (as a vCPU's pCPU and a host endpoint
// would be). Used by test/drivers/vmbus/ and `npm run bench -- ring`.
import { Worker } from 'node:worker_threads';
import { createHostMemory, instantiateKernel, kernelModule } from '../../runtime/host/kernel.ts';
import { ringKernel, VmbusRing } from '../../drivers/vmbus/ring.ts';

export const BELL_READER = 0;
export const BELL_WRITER = 1;

export interface RingThreadJob {
  role: 'writer' | 'reader';
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ring: number;
  size: number;
  bells: number;
  staging: number;
  stagingBytes: number;
  count: number;
  maxLen: number;
  fixed: boolean;
  seed: number;
  verify: boolean;
  /** The reader takes up to this many packets a call (ringReadBatch: one read-index commit each); 0: one ringRead a packet. */
  batch: number;
}

export interface RingThreadResult {
  packets: number;
  bytes: number;
  checksum: number;
  /** Doorbells rung (RING_SIGNAL results). */
  signals: number;
  waits: number;
  /** Waits that ended by timeout instead of a doorbell: lost wake-ups. */
  timeouts: number;
  errors: string[];
  seconds?: number;
}

/** Packet i's payload length: mostly small and odd-sized, every 97th `maxLen` (fills the ring now and then); all `maxLen` if `fixed`. */
export function packetLength(i: number, maxLen: number, fixed = false): number {
  if (fixed || maxLen <= 256) return maxLen;
  return i % 97 === 96 ? maxLen : (i * 7919) % 256;
}

let script: string | undefined;

/** The worker entry, bundled once per process (Node 20 runs no TypeScript). */
async function workerScript(): Promise<string> {
  if (script) return script;
  const { bundleFile } = await import('../../scripts/bundle.js');
  const out: string = await bundleFile('test/support/ring-thread-worker.ts', 'ring-thread-worker.mjs');
  return (script = out);
}

export interface RingThreadsOptions {
  count: number;
  /** Ring bytes, header included. */
  size: number;
  /** Largest payload (see packetLength); <= 256 means every packet is exactly this long. */
  maxLen: number;
  /** Every packet exactly `maxLen` long (a bandwidth figure). */
  fixed?: boolean;
  verify: boolean;
  seed?: number;
  /** See RingThreadJob.batch (default 0: a ringRead per packet). */
  batch?: number;
}

/** Streams `count` packets writer -> reader on two threads; both sides' tallies and the wall time. */
export async function runRingThreads(o: RingThreadsOptions): Promise<{ writer: RingThreadResult; reader: RingThreadResult; seconds: number }> {
  const module = kernelModule();
  const stagingBytes = Math.max(65536, ((o.maxLen + 4096 + 16) & ~4095) + 4096);
  const base = 0x0120_0000; // the frame pool's start: no partitions here
  const ring = base;
  const bells = ring + o.size;
  const stagingW = bells + 4096;
  const stagingR = stagingW + stagingBytes;
  const memory = createHostMemory(stagingR + stagingBytes);
  const noDevice = () => 0;
  const { exports } = instantiateKernel(memory, { mmioRead: noDevice, mmioWrite: () => {}, hostClock: noDevice }, module);
  if (new VmbusRing(ringKernel(exports), memory, ring, o.size).init() !== 0) throw new RangeError(`bad ring size ${o.size}`);
  const file = await workerScript();
  const common = { module, memory, ring, size: o.size, bells, stagingBytes, count: o.count, maxLen: o.maxLen, fixed: o.fixed === true, seed: o.seed ?? 1, verify: o.verify, batch: o.batch ?? 0 };
  const start = (job: RingThreadJob) =>
    new Promise<RingThreadResult>((resolve, reject) => {
      const w = new Worker(file, { workerData: job });
      w.once('message', (r: RingThreadResult) => resolve(r));
      w.once('error', reject);
      w.once('exit', (code) => code !== 0 && reject(new Error(`ring ${job.role} thread exited with ${code}`)));
    });
  const t0 = performance.now();
  const [writer, reader] = await Promise.all([
    start({ ...common, role: 'writer', staging: stagingW }),
    start({ ...common, role: 'reader', staging: stagingR }),
  ]);
  return { writer, reader, seconds: (performance.now() - t0) / 1000 };
}
