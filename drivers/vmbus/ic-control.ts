// The integration components as the control plane asks them (HostController,
// `hv run`'s Ctrl-A g): a promise per request that settles with the guest's
// answer, or rejects with IcError saying why not (no such IC offered, the
// guest has not negotiated it, refused, did not answer in 5 s of its clock).
// Call on the thread that runs the partition's devices.
import type { VmbusDevice } from './channel-manager.ts';
import { HeartbeatIc, type HeartbeatStatus } from './ic-heartbeat.ts';
import { KvpIc } from './ic-kvp.ts';
import { ShutdownIc } from './ic-shutdown.ts';
import type { IcState } from './ic.ts';

/** A request to an integration component that could not be done. */
export class IcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IcError';
  }
}

/** The guest's KVP pools as last read, and what the host pushed into its external pool. */
export interface KvpPools {
  auto: Record<string, string>;
  guest: Record<string, string>;
  external: Record<string, string>;
}

export interface HeartbeatInfo extends HeartbeatStatus {
  state: IcState;
}

function find<T>(devices: readonly VmbusDevice[] | undefined, cls: abstract new (...a: never[]) => T, name: string): T {
  const d = devices?.find((x) => x instanceof cls);
  if (!d) throw new IcError(`the partition has no ${name} integration component (vmbus.ic in its spec)`);
  return d as T;
}

/** `f(done)` as a promise: done(null) resolves, done(reason) rejects with IcError. */
const ask = (f: (done: (error: string | null) => void) => void): Promise<void> =>
  new Promise((resolve, reject) => f((e) => (e === null ? resolve() : reject(new IcError(e)))));

/** Asks the guest to shut down (or restart); resolves once it accepted: it goes down by its own path after. */
export function guestShutdown(devices: readonly VmbusDevice[] | undefined, reboot = false): Promise<void> {
  const ic = find(devices, ShutdownIc, 'shutdown');
  return ask((done) => ic.shutdown(reboot, done));
}

/** Reads the guest's pools afresh. */
export async function kvpRead(devices: readonly VmbusDevice[] | undefined): Promise<KvpPools> {
  const ic = find(devices, KvpIc, 'KVP');
  if (ic.state !== 'ready') throw new IcError(`the guest's KVP IC is ${ic.state}, not ready`);
  await ask((done) => ic.read(done));
  return { ...ic.guestPools, external: Object.fromEntries(ic.pushed) };
}

/** Pushes `key` = `value` into the guest's external pool; resolves once the guest took it. */
export function kvpWrite(devices: readonly VmbusDevice[] | undefined, key: string, value: string): Promise<void> {
  const ic = find(devices, KvpIc, 'KVP');
  if (ic.state !== 'ready') return Promise.reject(new IcError(`the guest's KVP IC is ${ic.state}, not ready`));
  return ask((done) => ic.set(key, value, done));
}

/** The heartbeat IC's state and the guest's last answer. */
export function heartbeat(devices: readonly VmbusDevice[] | undefined): HeartbeatInfo {
  const ic = find(devices, HeartbeatIc, 'heartbeat');
  return { state: ic.state, ...ic.status };
}
