// The root partition's thread: device models and the control plane
// (root.ts), reached from the host's main thread over comlink.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { expose } from 'comlink';
import { nodeEndpoint } from './endpoint.ts';
import { RootPartition } from './root.ts';
import { HostShared } from './shared.ts';

export interface RootWorkerData {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  poolBytes: number;
  shared: SharedArrayBuffer;
  pcpus: number;
  insnsPerMs: number;
  /** Console output of every partition, in order (root.ts RootOptions.consolePort). */
  consolePort: MessagePort;
}

const d = workerData as RootWorkerData;
const root = new RootPartition({ ...d, shared: new HostShared(d.shared) });
expose(root, nodeEndpoint(parentPort!));
