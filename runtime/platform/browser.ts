// The host's threads in a browser: module Web Workers running the scripts
// bundled next to the page's (dist/playground/), the kernel fetched from
// beside them. Needs cross-origin isolation (COOP/COEP) for the shared
// memory. The root thread's files are memfs.ts: the page reaches them over
// a port of their own (rootFiles()), since the control plane names images
// by path. The VMBus endpoint worker, which opens the disks lent to it by
// path too, gets the root's shared files in its own store: those there when
// it starts in its first message, each later put or removal in a message
// of its own, ahead of any lend that could name it.
import { expose, wrap, type Endpoint, type Remote } from 'comlink';
import { memfs, type MemFs, type SharedChange } from './browser/memfs.ts';
import type { HostThread, LocalPort, Platform, RemotePort, ThreadContext, ThreadName } from './platform.ts';

/** The first message a host thread gets. */
interface Startup {
  data: unknown;
  /** The root thread's file store port. */
  files?: MessagePort;
  /** The endpoint worker's: the root's shared files. */
  shared?: SharedChange[];
}

/** A later change to the endpoint worker's files, on its own port (before the lends that follow it). */
interface FileChange {
  hvSharedFile: SharedChange;
}

export type FileStore = Pick<MemFs, 'put' | 'get' | 'remove' | 'list'>;

let files: Remote<FileStore> | undefined;

/** The file store of the root thread of the host started last (after Host.start). */
export function rootFiles(): Remote<FileStore> {
  if (!files) throw new Error('no host has been started');
  return files;
}

function thread(worker: Worker, stop?: () => void): HostThread {
  return {
    endpoint: worker,
    onFailure(cb) {
      // A browser Worker has no exit event: an uncaught error is how it fails.
      worker.addEventListener('error', (e) => cb(new Error(`a host thread failed: ${e.message}`)), { once: true });
    },
    async terminate() {
      stop?.();
      worker.terminate();
    },
  };
}

export const platform: Platform = {
  parallelism: () => navigator.hardwareConcurrency || 1,
  kernelModule: () => WebAssembly.compileStreaming(fetch(new URL('./kernel.wasm', import.meta.url))),
  spawn(name: ThreadName, data: unknown, transfer: RemotePort[] = []) {
    const worker = new Worker(new URL(`./${name}.js`, import.meta.url), { type: 'module', name });
    const startup: Startup = { data };
    const moved = transfer as unknown as Transferable[];
    if (name === 'root-worker') {
      const ch = new MessageChannel();
      startup.files = ch.port2;
      moved.push(ch.port2);
      files = wrap<FileStore>(ch.port1);
    }
    let stop: (() => void) | undefined;
    if (name === 'endpoint-worker') {
      // Spawned by the root thread: its store is memfs here.
      const shared = memfs.share((c) => worker.postMessage({ hvSharedFile: c } satisfies FileChange));
      startup.shared = shared.now;
      stop = shared.stop;
    }
    worker.postMessage(startup, moved);
    return thread(worker, stop);
  },
  channel() {
    const { port1, port2 } = new MessageChannel();
    port1.start(); // addEventListener does not start a MessagePort
    const local: LocalPort = Object.assign(port1 as Endpoint, { close: () => port1.close() });
    return { local, remote: port2 };
  },
};

// The root thread yields to control-plane messages with setImmediate
// (root.ts, hypervisor.ts), which browsers lack: a message to itself is the
// same thing, a macrotask without setTimeout's clamping.
if (!('setImmediate' in globalThis)) {
  const ch = new MessageChannel();
  const queue: (() => void)[] = [];
  ch.port1.onmessage = () => queue.shift()?.();
  Object.assign(globalThis, { setImmediate: (f: () => void) => (queue.push(f), ch.port2.postMessage(0)) });
}

const startup = new Promise<Startup>((resolve) => {
  if (!('WorkerGlobalScope' in globalThis)) return; // the page's thread has no creator
  self.addEventListener('message', (e) => {
    const s = (e as MessageEvent<Startup>).data;
    for (const c of s.shared ?? []) memfs.adopt(c); // before any later change
    resolve(s);
  }, { once: true });
  // Before the thread's own listeners (added later): a file change is the platform's, not theirs.
  self.addEventListener('message', (e) => {
    const change = (e as MessageEvent<Partial<FileChange>>).data?.hvSharedFile;
    if (!change) return;
    e.stopImmediatePropagation();
    memfs.adopt(change);
  });
});

export const threadContext: ThreadContext = {
  async data<T>() {
    const s = await startup;
    if (s.files) expose(memfs satisfies FileStore, s.files);
    return s.data as T;
  },
  get parent(): Endpoint {
    return self as unknown as Endpoint;
  },
};
