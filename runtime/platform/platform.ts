// What the threaded host (runtime/host/host.ts and its workers) needs from
// the JavaScript platform it runs on, as one small interface with two
// implementations: Node's worker_threads (node.ts) and the browser's Web
// Workers (browser.ts). Everything else in the host is shared. Which one a
// program gets is decided when it is bundled: current.ts re-exports the
// Node one, and the playground's bundles (scripts/playground.js) resolve
// current.ts to browser.ts instead.
import type { Endpoint } from 'comlink';

/** The host's worker scripts (bundled next to each other). */
export type ThreadName = 'pcpu-worker' | 'root-worker' | 'endpoint-worker';

/** A worker thread of the host, as the thread that started it sees it. */
export interface HostThread {
  /** comlink endpoint to the thread (its parent side). */
  readonly endpoint: Endpoint;
  /** Calls `cb` once if the thread fails or ends without being terminated. */
  onFailure(cb: (e: Error) => void): void;
  terminate(): Promise<void>;
}

/** One end of a message channel kept by its creator. */
export interface LocalPort extends Endpoint {
  close(): void;
}

/** The other end, sent to a thread in spawn()'s data and transfer list. */
export interface RemotePort {
  postMessage(message: unknown): void;
}

export interface Platform {
  /** Default pCPU threads: the machine's parallelism. */
  parallelism(): number;
  /** build/kernel.wasm, compiled (once; the module is sent to every thread). */
  kernelModule(): Promise<WebAssembly.Module>;
  /** Starts host thread `name` with `data` (structured clone; `transfer` moved). */
  spawn(name: ThreadName, data: unknown, transfer?: RemotePort[]): HostThread;
  /** A message channel: `local` stays, `remote` is transferred to a thread. */
  channel(): { local: LocalPort; remote: RemotePort };
}

/** Inside a host thread: what its creator gave it. */
export interface ThreadContext {
  /** The data passed to spawn(). */
  data<T>(): Promise<T>;
  /** comlink endpoint to the thread's creator. */
  readonly parent: Endpoint;
}
