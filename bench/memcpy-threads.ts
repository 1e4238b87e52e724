// The reference for the VMBus ring between two threads (`npm run bench --
// vmbus`): the least a shared-memory queue can cost, a plain memcpy
// (TypedArray.set) into a slot and out again, with Atomics counters and
// wait/notify only when the queue goes empty -> non-empty or full -> not
// full, as the ring signals. Same bytes of queue as the ring's data area; no
// headers, trailers, index checks or packet framing.
import { Worker } from 'node:worker_threads';

// Plain JavaScript: Node 20 runs no TypeScript in a worker, and this needs no kernel.
const WORKER = `
const { parentPort, workerData: { role, buf, slots, len, count } } = require('node:worker_threads');
const ctl = new Int32Array(buf, 0, 4); // [0] head (reader), [1] tail (writer), [2] reader waits, [3] writer waits
const data = new Uint8Array(buf, 16, slots * len);
const mine = new Uint8Array(len).fill(0xa5);
const t0 = performance.now();
if (role === 'writer') {
  for (let t = 0; t < count; t++) {
    while (t - Atomics.load(ctl, 0) >= slots) Atomics.wait(ctl, 0, t - slots); // full: wait for the reader
    data.set(mine, (t % slots) * len);
    Atomics.store(ctl, 1, t + 1);
    if (t === Atomics.load(ctl, 0)) Atomics.notify(ctl, 1); // empty -> non-empty
  }
} else {
  for (let h = 0; h < count; h++) {
    while (Atomics.load(ctl, 1) === h) Atomics.wait(ctl, 1, h); // empty: wait for the writer
    const at = (h % slots) * len;
    mine.set(data.subarray(at, at + len));
    Atomics.store(ctl, 0, h + 1);
    if (Atomics.load(ctl, 1) - h === slots) Atomics.notify(ctl, 0); // full -> not full
  }
}
parentPort.postMessage((performance.now() - t0) / 1000);
`;

/** Streams `count` copies of `len` bytes from one thread to another through `queueBytes` of slots; seconds (the slower side). */
export async function memcpyThreads(len: number, count: number, queueBytes: number): Promise<number> {
  const slots = Math.max(2, Math.floor(queueBytes / len));
  const buf = new SharedArrayBuffer(16 + slots * len);
  const run = (role: string) =>
    new Promise<number>((resolve, reject) => {
      const w = new Worker(WORKER, { eval: true, workerData: { role, buf, slots, len, count } });
      w.once('message', resolve);
      w.once('error', reject);
    });
  const [a, b] = await Promise.all([run('writer'), run('reader')]);
  return Math.max(a, b);
}
