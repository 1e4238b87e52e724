// Waiting for a guest to release a rescinded VMBus relid on the threaded
// host: our guests' library does it (RELID_RELEASED) when it next waits,
// a moment after the host's removal, so a test polls the channel list.
import type { Host } from '../../runtime/host/host.ts';

/** Resolves once partition `id` no longer lists channel `relid`; fails after 20 s with the list. */
export async function relidReleased(host: Host, id: number, relid: number): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (!(await host.channels(id)).some((c) => c.relid === relid)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`relid ${relid} was never released: ${JSON.stringify(await host.channels(id))}`);
}
