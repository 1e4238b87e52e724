// The host's threads on Node: worker_threads Workers running the bundled
// scripts in dist/, and the kernel read from build/kernel.wasm.
import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Endpoint } from 'comlink';
import { nodeEndpoint } from '../host/endpoint.ts';
import { kernelModule } from '../host/kernel.ts';
import { workerPath } from '../host/paths.ts';
import type { HostThread, LocalPort, Platform, RemotePort, ThreadContext, ThreadName } from './platform.ts';

function thread(worker: Worker): HostThread {
  let terminated = false;
  return {
    endpoint: nodeEndpoint(worker),
    onFailure(cb) {
      worker.once('error', (e: unknown) => cb(e as Error));
      worker.once('exit', (code) => terminated || cb(new Error(`a host thread exited (status ${code})`)));
    },
    async terminate() {
      terminated = true;
      await worker.terminate();
    },
  };
}

export const platform: Platform = {
  parallelism: availableParallelism,
  kernelModule: async () => kernelModule(),
  spawn: (name: ThreadName, data: unknown, transfer: RemotePort[] = []) =>
    thread(new Worker(workerPath(name), { workerData: data, transferList: transfer as MessagePort[] })),
  channel() {
    const { port1, port2 } = new MessageChannel();
    const local: LocalPort = Object.assign(nodeEndpoint(port1), { close: () => port1.close() });
    return { local, remote: port2 };
  },
};

export const threadContext: ThreadContext = {
  data: async <T>() => workerData as T,
  get parent(): Endpoint {
    return nodeEndpoint(parentPort!);
  },
};
