// The four integration components (Hyper-V offers them to every VM; here a
// partition spec asks with `vmbus.ic`, runtime/machine/setup.ts), with
// fixed instance GUIDs so a guest sees the same devices at every boot.
import type { Clock } from '../emulated/goldfish_rtc.ts';
import { HeartbeatIc } from './ic-heartbeat.ts';
import { KvpIc, type KvpOptions } from './ic-kvp.ts';
import { ShutdownIc } from './ic-shutdown.ts';
import { TimesyncIc } from './ic-timesync.ts';
import type { IntegrationComponent } from './ic.ts';

export interface IntegrationServices {
  heartbeat: HeartbeatIc;
  shutdown: ShutdownIc;
  timesync: TimesyncIc;
  kvp: KvpIc;
}

const instance = (n: number) => `1c5e0b10-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

export function integrationServices(options: { kvp?: KvpOptions; clock?: Clock } = {}): IntegrationServices {
  return {
    heartbeat: new HeartbeatIc(instance(1)),
    shutdown: new ShutdownIc(instance(2)),
    timesync: new TimesyncIc(instance(3), options.clock),
    kvp: new KvpIc(instance(4), options.kvp),
  };
}

/** In the order they are offered. */
export const icDevices = (s: IntegrationServices): IntegrationComponent[] => [s.heartbeat, s.shutdown, s.timesync, s.kvp];
