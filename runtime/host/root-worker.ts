// The root partition's thread: device models and the control plane
// (root.ts), reached from the host's main thread over comlink.
import { expose } from 'comlink';
import { threadContext } from '../platform/current.ts';
import type { RemotePort } from '../platform/platform.ts';
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
  consolePort: RemotePort;
}

const d = await threadContext.data<RootWorkerData>();
const root = new RootPartition({ ...d, shared: new HostShared(d.shared) });
expose(root, threadContext.parent);
