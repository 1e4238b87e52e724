// A physical CPU: a worker thread running the kernel's scheduler loop over
// host memory (kernel/sched/pcpu.ts). Nothing here touches a device: an
// exit for the root partition is posted to its thread (shared.ts) and the
// vCPU blocks until the root wakes it; when nothing is runnable the thread
// sleeps on its pCPU's kick word, and the idle time moves its clock on.
import { ticksSince } from '../machine/clock.ts';
import { threadContext } from '../platform/current.ts';
import { instantiateKernel, type KernelExports } from './kernel.ts';
import type { JitMode } from '../jit/tier.ts';
import { SchedExit, schedExports, schedLayout } from './sched.ts';
import { HostShared } from './shared.ts';

export interface PcpuWorkerData {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  pcpu: number;
  shared: SharedArrayBuffer;
  insnsPerMs: number;
  jit: JitMode;
}

/** vCPU runs per call into the kernel (each at most one scheduler tick). */
const RUNS_PER_CALL = 8;
/** Longest sleep while idle: blocked vCPUs' timers are polled this often. */
const IDLE_MS = 1;
/** How long a pCPU that just posted an exit watches for its vCPU's return before sleeping (ms). */
const EXIT_SPIN_MS = 0.03;

function main(d: PcpuWorkerData): void {
  const shared = new HostShared(d.shared);
  let k: KernelExports | undefined;
  // Partitions on threaded hosts exit for device accesses, so the
  // synchronous path is never taken; if it were, it is a bus error.
  const instance = instantiateKernel(
    d.memory,
    {
      mmioRead: () => (k!.mmioFault(), 0),
      mmioWrite: () => k!.mmioFault(),
      hostClock: (id) => ticksSince(shared.epoch(id)),
    },
    d.module,
  );
  k = instance.exports;
  instance.jit.setMode(d.jit); // its tables come from the pool at the first entry, once the root has set it up
  const s = schedExports(k);
  const layout = schedLayout(instance.exports as unknown as Record<string, unknown>);
  const i32 = new Int32Array(d.memory.buffer as ArrayBuffer);
  const kick = (layout.pcpus + d.pcpu * layout.pcpuSize + layout.kick) >> 2;
  let posted = false; // the last call ended in an exit posted to the root
  while (!shared.shuttingDown) {
    const seen = Atomics.load(i32, kick);
    const r = s.pcpuRun(d.pcpu, RUNS_PER_CALL);
    instance.jit.poll(); // queued translations (--jit on) compiled between runs
    const exited = posted;
    posted = false;
    if (r === SchedExit.HOST || r === SchedExit.HALT) {
      posted = true;
      const v = s.pcpuExitVcpu(d.pcpu);
      if (r === SchedExit.HOST) s.schedBlock(v); // until the root has serviced the exit
      shared.postExit(v);
    } else if (r === SchedExit.IDLE) {
      const t0 = performance.now();
      // Idle right after posting an exit: the vCPU is most likely waiting on
      // the root and comes back here within microseconds, so watch the kick
      // word a moment. Otherwise sleep at once: with as many pCPUs as cores,
      // an idle pCPU that spins takes the core a busy one or the root needs.
      if (exited) while (Atomics.load(i32, kick) === seen && performance.now() - t0 < EXIT_SPIN_MS) {}
      Atomics.wait(i32, kick, seen, IDLE_MS);
      const ms = performance.now() - t0;
      s.pcpuAdvance(d.pcpu, BigInt(Math.max(1, Math.round(ms * d.insnsPerMs))));
    }
  }
}

main(await threadContext.data<PcpuWorkerData>());
