// One end of a VMBus ring on its own thread (test/support/ring-threads.ts):
// the writer streams `count` packets, the reader takes them; each sleeps on
// a doorbell word when it must, and rings the other's only when the ring
// primitive says so (RING_SIGNAL). A lost wake-up shows as a timed-out wait.
import { parentPort, workerData } from 'node:worker_threads';
import { instantiateKernel } from '../../runtime/host/kernel.ts';
import { packetFootprint, RingResult as R, ringKernel, VmbusRing } from '../../drivers/vmbus/ring.ts';
import { type RingThreadJob, type RingThreadResult, BELL_READER, BELL_WRITER, packetLength } from './ring-threads.ts';

const job = workerData as RingThreadJob;
const noDevice = () => 0;
const { exports } = instantiateKernel(job.memory, { mmioRead: noDevice, mmioWrite: () => {}, hostClock: noDevice }, job.module);
const ring = new VmbusRing(ringKernel(exports), job.memory, job.ring, job.size);
const bells = new Int32Array(job.memory.buffer, job.bells, 2);
const staging = new Uint32Array(job.memory.buffer, job.staging, job.stagingBytes / 4);
const stagingBytes = new Uint8Array(job.memory.buffer, job.staging, job.stagingBytes);
const stagingWords = staging; // u32 view: the batched reader reads descriptors through it (no BigInt per packet)
const WAIT_MS = 10_000;

const result: RingThreadResult = { packets: 0, bytes: 0, checksum: 0, signals: 0, waits: 0, timeouts: 0, errors: [] };

function ring_(bell: number): void {
  Atomics.add(bells, bell, 1);
  Atomics.notify(bells, bell);
  result.signals++;
}

function sleep(bell: number, seen: number): void {
  result.waits++;
  if (Atomics.wait(bells, bell, seen, WAIT_MS) === 'timed-out') result.timeouts++;
}

/** FNV-1a over 32-bit words, then the tail bytes: the same on both sides. */
function mix(h: number, v: number): number {
  return Math.imul(h ^ v, 0x01000193) >>> 0;
}
/** checksum() of a payload at byte `at` of staging (8-aligned) rather than at its start. */
function checksumAt(h: number, at: number, len: number, transId: number): number {
  h = mix(mix(h, len), transId);
  const words = len >>> 2;
  for (let i = 0; i < words; i++) h = mix(h, staging[(at >> 2) + i]!);
  for (let i = words * 4; i < len; i++) h = mix(h, stagingBytes[at + i]!);
  return h;
}
function checksum(h: number, len: number, transId: number): number {
  return checksumAt(h, 0, len, transId);
}

function writer(): void {
  let x = job.seed >>> 0 || 1;
  for (let i = 0; i < job.count; i++) {
    const len = packetLength(i, job.maxLen, job.fixed);
    if (job.verify) {
      for (let w = 0, n = (len + 3) >>> 2; w < n; w++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        staging[w] = x >>> 0;
      }
      result.checksum = checksum(result.checksum, len, i);
    }
    let blocked = false;
    for (;;) {
      const rc = ring.write(6, 0, i, job.staging, len);
      if (rc === R.SIGNAL) ring_(BELL_READER);
      if (rc >= 0) break;
      if (rc !== R.FULL) {
        result.errors.push(`write ${i}: ${rc}`);
        return;
      }
      // Blocked: publish what we need, look again, then sleep until the reader frees enough.
      blocked = true;
      const seen = Atomics.load(bells, BELL_WRITER);
      ring.setPendingSend(packetFootprint(len));
      if (ring.free() > packetFootprint(len)) continue;
      sleep(BELL_WRITER, seen);
    }
    // Withdrawn only if published: a store to the header's cache line per packet would bounce it to the reader each time.
    if (blocked) ring.setPendingSend(0);
    result.packets++;
    result.bytes += len;
  }
}

/** Checks packet `result.packets` (its descriptor at `at` in staging) and counts it; false on a mismatch. */
function take(at: number): boolean {
  const i = result.packets;
  const transId = stagingWords[(at >> 2) + 2]! + stagingWords[(at >> 2) + 3]! * 2 ** 32;
  const len = packetLength(i, job.maxLen, job.fixed);
  const got = ((stagingWords[(at >> 2) + 1]! & 0xffff) - (stagingWords[at >> 2]! >>> 16)) * 8;
  if (transId !== i || got !== ((len + 7) & ~7)) {
    result.errors.push(`packet ${i}: trans_id ${transId}, ${got} bytes`);
    return false;
  }
  if (job.verify) result.checksum = checksumAt(result.checksum, at + (stagingWords[at >> 2]! >>> 16) * 8, len, i);
  result.packets++;
  result.bytes += len;
  return true;
}

/** The batched reader: ringReadBatch leaves whole packets back to back in staging; the read index moves once a batch. */
function batchReader(): void {
  const info = job.staging + job.stagingBytes - 16;
  const room = job.stagingBytes - 16;
  ring.beginRead();
  while (result.packets < job.count) {
    const n = ring.readBatch(job.staging, room, job.batch, info);
    if (n > 0) {
      if (stagingWords[(room >> 2) + 1]) ring_(BELL_WRITER);
      const bytes = stagingWords[room >> 2]!;
      for (let at = 0; at < bytes; at += (stagingWords[(at >> 2) + 1]! & 0xffff) * 8) if (!take(at)) return;
      continue;
    }
    if (n !== 0) {
      result.errors.push(`read ${result.packets}: ${n}`);
      return;
    }
    const seen = Atomics.load(bells, BELL_READER);
    const more = ring.endRead();
    if (more === 0) sleep(BELL_READER, seen);
    ring.beginRead();
  }
  ring.endRead();
}

function reader(): void {
  const desc = job.staging + job.stagingBytes - 16;
  const room = job.stagingBytes - 16;
  const dv = new DataView(job.memory.buffer, desc, 16);
  ring.beginRead();
  while (result.packets < job.count) {
    const rc = ring.read(job.staging, room, desc);
    if (rc >= 0) {
      if (rc === R.SIGNAL) ring_(BELL_WRITER);
      const i = result.packets;
      const transId = Number(dv.getBigUint64(8, true));
      const len = packetLength(i, job.maxLen, job.fixed);
      const got = (dv.getUint16(4, true) - dv.getUint16(2, true)) * 8;
      if (transId !== i || got !== ((len + 7) & ~7)) {
        result.errors.push(`packet ${i}: trans_id ${transId}, ${got} bytes`);
        return;
      }
      if (job.verify) result.checksum = checksum(result.checksum, len, i);
      result.packets++;
      result.bytes += len;
      continue;
    }
    if (rc !== R.EMPTY) {
      result.errors.push(`read ${result.packets}: ${rc}`);
      return;
    }
    // Drained: unmask, look again (hv_end_read), sleep until the writer signals.
    const seen = Atomics.load(bells, BELL_READER);
    const more = ring.endRead();
    if (more === 0) sleep(BELL_READER, seen);
    ring.beginRead();
  }
  ring.endRead();
}

const t0 = performance.now();
if (job.role === 'writer') writer();
else if (job.batch) batchReader();
else reader();
result.seconds = (performance.now() - t0) / 1000;
parentPort!.postMessage(result);
