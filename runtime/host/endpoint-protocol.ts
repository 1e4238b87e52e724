// How the root partition's thread and the endpoint worker (endpoint-worker.ts)
// share the channels the worker serves. Lending a channel is a message (its
// rings, partition and disk); everything on the data path and the recall is
// shared memory, because the worker never waits on its event loop while it
// serves and the root must know, before it answers a guest's CLOSECHANNEL or
// saves a device, that the worker has let go:
//
//   control block (frame pool, CONTROL_PAGES pages)
//   +0      the worker's doorbell (i32): every partition's served connections
//           ring it (kernel signal_event, HE_SERVER_BELL), and so does the root
//           after it asks for a recall
//   +4096   SLOTS slots of SLOT_BYTES, one per channel lent:
//           [0] cmd  IDLE -> SERVE (root, then the lend message) -> RECALL (root)
//                    -> RECALLED (worker, notified; the state below is written)
//           [1] gen  the lend's number: a lend message of an older gen is stale
//           [2] bytes of the recalled state (JSON, ServedState) from +16
import type { DirtyLogPlace } from '../../drivers/emulated/dirty.ts';
import type { ChannelRings } from '../../drivers/vmbus/channel-manager.ts';
import type { ServedState } from '../../drivers/vmbus/endpoint.ts';
import type { DiskSpec } from './spec.ts';

export const CONTROL_PAGES = 17;
export const Header = { bell: 0, lends: 1, serves: 2 } as const;
export const SLOTS = 64;
export const SLOT_BYTES = 1024;
export const SLOT_DATA = 16;
export const Cmd = { IDLE: 0, SERVE: 1, RECALL: 2, RECALLED: 3 } as const;

/** i32 index of slot `k`'s word `w` in a view over the whole memory. */
export const slotWord = (control: number, k: number, w: number): number => (control + 4096 + k * SLOT_BYTES) / 4 + w;
export const slotData = (control: number, k: number): number => control + 4096 + k * SLOT_BYTES + SLOT_DATA;

/** What the worker needs to serve a partition's channel. */
export interface LendMessage {
  slot: number;
  gen: number;
  partition: { id: number; firstVcpu: number; ramGpa: number; ramHost: number; ramSize: number; eventArea: number; dirty: DirtyLogPlace };
  relid: number;
  rings: Pick<ChannelRings, 'outbound' | 'inbound' | 'targetVp'>;
  /** The device's scratch pages (the root's copy does not use them while the channel is lent). */
  scratch: number;
  /** storvsc: the image the worker opens (the root has closed its handle) and the device's identity. */
  disk: DiskSpec;
  instanceId: string;
  served: ServedState;
}

/**
 * From the worker: `fault`, the guest broke the device's protocol (the root
 * closes the channel, as if it had served it); `refused`, the worker could
 * not take the channel (its disk does not open there): the root serves it.
 */
export interface WorkerMessage {
  slot: number;
  gen: number;
  fault?: string;
  refused?: string;
}

export interface EndpointWorkerData {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  /** HostShared's buffer: the shutdown flag and the partitions' clocks. */
  shared: SharedArrayBuffer;
  control: number;
}
