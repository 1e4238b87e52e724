// The JIT's compile thread (--jit on): translates and compiles batches of
// regions off the vCPU's thread, which goes on interpreting meanwhile and
// picks the compiled modules up between runs without blocking (tier.ts).
//
// Node only, through worker_threads found at run time
// (process.getBuiltinModule), so the browser bundle never references it:
// there, and wherever the worker script is missing, startCompileThread
// answers undefined and the tier compiles its batches on its own thread.
// A WebAssembly.Module posted between threads is shared, not recompiled,
// and the code it reads is in the shared host memory.
import type { MessagePort } from 'node:worker_threads';
import { workerPath } from '../host/paths.ts';
import type { HartOffsets } from './translate.ts';

/** A region wanted in a kernel slot (kernel/jit/dispatch.ts jitInstall's arguments). */
export interface CompileRequest {
  slot: number;
  /** Guest-virtual pc of its entry (unsigned). */
  pc: bigint;
  /** Host address of the frame holding the code. */
  frame: number;
  /** The kernel's number for this request (jitInstall installs only the one its entry waits for). */
  ticket: number;
}

/** What the thread answers for one posted batch. */
export interface CompiledBatch {
  requests: CompileRequest[];
  /** Per request: its function's index in `module` (export f<i>), or -1 when nothing there is translated. */
  index: number[];
  /** Undefined when no request was translated. */
  module: WebAssembly.Module | undefined;
  bytes: number;
  /** Time the thread spent on the batch. */
  micros: number;
}

/** The worker script's data (compile-worker.ts). */
export interface CompileWorkerData {
  memory: WebAssembly.Memory;
  rvcTable: number;
  off: HartOffsets;
  port: MessagePort;
}

export interface CompileThread {
  post(batch: CompileRequest[]): void;
  /** A compiled batch if one is waiting (never blocks). */
  take(): CompiledBatch | undefined;
}

type WorkerThreads = typeof import('node:worker_threads');
type Fs = typeof import('node:fs');

/** Terminates a tier's thread when the tier is collected (tests create many machines). */
const reaper = new FinalizationRegistry<{ terminate(): unknown }>((w) => void w.terminate());

/** A compile thread for the tier `owner` over `memory`, or undefined where there can be none. */
export function startCompileThread(owner: object, memory: WebAssembly.Memory, rvcTable: number, off: HartOffsets): CompileThread | undefined {
  const builtin = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (!builtin) return undefined;
  const wt = builtin('node:worker_threads') as WorkerThreads;
  const path = workerPath('jit-worker');
  if (!(builtin('node:fs') as Fs).existsSync(path)) return undefined;
  const { port1, port2 } = new wt.MessageChannel();
  const data: CompileWorkerData = { memory, rvcTable, off, port: port2 };
  const worker = new wt.Worker(path, { workerData: data, transferList: [port2] });
  worker.unref(); // never what keeps a process alive
  port1.unref();
  // A failed thread answers nothing more: its requests stay pending and
  // that code interpreted (correct, only slower); nothing to crash over.
  worker.on('error', () => {});
  reaper.register(owner, worker);
  return {
    post: (batch) => port1.postMessage(batch),
    take: () => wt.receiveMessageOnPort(port1)?.message as CompiledBatch | undefined,
  };
}
