// The root partition's side of the endpoint worker (endpoint-worker.ts): it
// lends a partition's open storvsc channels to that thread and takes them
// back. The root keeps the channel manager (offers, GPADLs, open and close)
// and lends a channel once it is open and its partition runs; it recalls it
// before anything of its own touches the channel, the device or its disk:
// the guest's CLOSECHANNEL (so the close is complete before the guest may
// tear the ring's GPADL down and reuse its pages), a pause (saves,
// snapshots, live migration's capture: the device's state comes back with
// the channel), a disk move, a hot remove, the partition's end or reboot.
//
// The disk changes hands with the channel: the root flushes and closes its
// back end (LentDisk stands in, refusing I/O) and the worker opens the same
// image by its spec; the worker closes its own before it answers a recall,
// and the root opens the image again (a VHD's metadata has one owner). A
// snapshot or a disk move that switched the image in between is what the
// next lend opens.
//
// One worker per host for every partition: on a 2-core host a thread per
// channel or per partition would only add wake-ups; one thread sleeping on
// one doorbell serves them all, and the root's thread keeps the exits.
import { BlockError, type BlockDevice } from '../../drivers/block/device.ts';
import type { SwitchableDevice } from '../../drivers/block/switchable.ts';
import type { ChannelRings } from '../../drivers/vmbus/channel-manager.ts';
import type { ChannelEndpoint, EndpointOffload, ServedState } from '../../drivers/vmbus/endpoint.ts';
import { ServedConnections } from '../../drivers/vmbus/served.ts';
import { StorvscDevice } from '../../drivers/vmbus/storvsc.ts';
import type { Machine } from '../machine/machine.ts';
import { openDrive } from '../machine/drives.ts';
import { platform } from '../platform/current.ts';
import type { HostThread } from '../platform/platform.ts';
import { Cmd, CONTROL_PAGES, Header, slotData, slotWord, SLOTS, type EndpointWorkerData, type LendMessage, type WorkerMessage } from './endpoint-protocol.ts';
import type { HostShared } from './shared.ts';
import type { DiskSpec } from './spec.ts';

/** A partition as the server needs it, read at each lend. */
export interface ServedPartition {
  machine: Machine;
  /** Its channels may be lent now: it runs, and no disk of it is being moved. */
  lendable: boolean;
  /** The disk behind a storvsc device of it and the spec it was opened from (snapshots and moves change it). */
  diskOf(device: StorvscDevice): { disk: SwitchableDevice; spec: DiskSpec } | undefined;
}

/** The root's stand-in for a disk the worker has open: no request may reach it. */
class LentDisk implements BlockDevice {
  constructor(
    readonly size: number,
    readonly readOnly: boolean,
  ) {}
  read(): void {
    throw new BlockError('the disk is served by the endpoint worker');
  }
  write(): void {
    throw new BlockError('the disk is served by the endpoint worker');
  }
  flush(): void {}
  close(): void {}
}

interface Lent {
  device: StorvscDevice;
  gen: number;
  relid: number;
  events: ServedConnections;
  disk: SwitchableDevice;
  spec: DiskSpec;
}

/** How long a recall may wait for the worker (ms): one request's I/O, or the thread's start. */
const RECALL_MS = 30_000;

export class EndpointServer {
  private thread: HostThread | undefined;
  private control = 0;
  private readonly i32: Int32Array;
  private readonly lent: (Lent | undefined)[] = new Array(SLOTS);
  private gen = 0;
  /** The worker died: nothing of it touches a channel any more, and nothing more is lent. */
  private dead = false;
  /** Devices the worker could not take (their image does not open there): served by the root. */
  private readonly refused = new WeakSet<ChannelEndpoint>();

  constructor(
    private readonly o: {
      memory: WebAssembly.Memory;
      module: () => WebAssembly.Module;
      shared: HostShared;
      /** `pages` zeroed pages of the frame pool (host address), 0 when out. */
      alloc(pages: number): number;
    },
  ) {
    this.i32 = new Int32Array(o.memory.buffer as ArrayBuffer);
  }

  /** The offload the devices of one partition lend through. */
  offload(part: () => ServedPartition | undefined): EndpointOffload {
    return {
      lend: (device, rings) => this.lend(part(), device, rings),
      recall: (device) => this.recall(device),
    };
  }

  /** Channels lent to the worker so far, and its wake-ups that served a signal. */
  stats(): { lends: number; serves: number } {
    if (!this.control) return { lends: 0, serves: 0 };
    const at = this.control / 4;
    return { lends: Atomics.load(this.i32, at + Header.lends), serves: Atomics.load(this.i32, at + Header.serves) };
  }

  private lend(p: ServedPartition | undefined, device: ChannelEndpoint, rings: ChannelRings): boolean {
    if (!p?.lendable || !(device instanceof StorvscDevice) || this.refused.has(device)) return false;
    const vmbus = p.machine.vmbus;
    const d = p.diskOf(device);
    const ch = vmbus?.channels.list().find((c) => c.state === 'open' && c.classId === device.classId && c.instanceId === device.instanceId);
    if (!vmbus || !d || !ch || !device.scratchAddress || this.dead || !this.started()) return false;
    const slot = this.lent.findIndex((l) => l === undefined);
    if (slot < 0) return false;
    const m = p.machine;
    const off = m.kernel.layout.off;
    const events = new ServedConnections(this.o.memory, vmbus.synic.eventArea);
    events.setBell(this.control + Header.bell * 4);
    // The root's handle goes before the worker opens its own.
    d.disk.flush();
    d.disk.switchTo(new LentDisk(d.disk.size, d.disk.readOnly)).close();
    const gen = ++this.gen;
    Atomics.store(this.i32, slotWord(this.control, slot, 1), gen);
    Atomics.store(this.i32, slotWord(this.control, slot, 0), Cmd.SERVE);
    events.serve(ch.relid);
    this.lent[slot] = { device, gen, relid: ch.relid, events, disk: d.disk, spec: d.spec };
    const msg: LendMessage = {
      slot, gen, relid: ch.relid,
      partition: {
        id: m.id, firstVcpu: m.firstVcpu, ramGpa: m.guestMemory.base, ramHost: m.ram.byteOffset, ramSize: m.ram.length, eventArea: vmbus.synic.eventArea,
        dirty: { descriptor: m.kernel.layout.partitions + m.id * m.kernel.layout.partSize, bitmapOff: off.P_DIRTY_BITMAP!, onOff: off.P_DIRTY_ON! },
      },
      rings: { outbound: rings.outbound, inbound: rings.inbound, targetVp: rings.targetVp },
      scratch: device.scratchAddress,
      disk: d.spec,
      instanceId: device.instanceId,
      served: device.served(),
    };
    this.thread!.endpoint.postMessage(msg);
    this.ring(); // the worker sleeps in Atomics.wait: woken, it takes its messages
    return true;
  }

  /** Synchronous: waits (Atomics.wait, this is a worker thread) until the worker has let go. */
  private recall(device: ChannelEndpoint): ServedState | undefined {
    const slot = this.lent.findIndex((l) => l?.device === device);
    if (slot < 0) return undefined;
    const l = this.lent[slot]!;
    l.events.unserve(l.relid); // later signals come to the root, which drains once it has the channel
    const cmd = slotWord(this.control, slot, 0);
    Atomics.store(this.i32, cmd, Cmd.RECALL);
    this.ring();
    const t0 = performance.now();
    while (!this.dead && Atomics.load(this.i32, cmd) !== Cmd.RECALLED) {
      if (performance.now() - t0 > RECALL_MS) throw new Error(`the endpoint worker did not give back VMBus channel ${l.relid} in ${RECALL_MS} ms`);
      Atomics.wait(this.i32, cmd, Cmd.RECALL, 100);
    }
    const bytes = this.dead ? 0 : Atomics.load(this.i32, slotWord(this.control, slot, 2));
    const json = bytes ? new TextDecoder().decode(new Uint8Array(this.o.memory.buffer as ArrayBuffer, slotData(this.control, slot), bytes).slice()) : '';
    Atomics.store(this.i32, cmd, Cmd.IDLE);
    this.lent[slot] = undefined;
    l.disk.switchTo(openDrive(l.spec)); // the stand-in goes
    return json ? (JSON.parse(json) as ServedState) : undefined;
  }

  private ring(): void {
    Atomics.add(this.i32, this.control / 4 + Header.bell, 1);
    Atomics.notify(this.i32, this.control / 4 + Header.bell);
  }

  /** Starts the worker at the first lend. False when the frame pool has no room for its control block. */
  private started(): boolean {
    if (this.thread) return true;
    const control = this.o.alloc(CONTROL_PAGES);
    if (!control) return false;
    this.control = control;
    const data: EndpointWorkerData = { memory: this.o.memory, module: this.o.module(), shared: this.o.shared.buffer, control };
    const thread = (this.thread = platform.spawn('endpoint-worker', data));
    thread.onFailure((e) => {
      // Its channels come back at their next recall with the state the root lent them with.
      this.dead = true;
      console.error('hv: the VMBus endpoint worker failed; the root serves its channels from their next recall on:', e);
    });
    thread.endpoint.addEventListener('message', (e) => this.heard((e as MessageEvent<WorkerMessage>).data));
    return true;
  }

  private heard(m: WorkerMessage): void {
    const l = this.lent[m.slot];
    if (!l || l.gen !== m.gen) return; // about a lend taken back since
    if (m.refused !== undefined) {
      console.warn(`hv: VMBus channel ${l.relid} is served by the root: the endpoint worker cannot open its disk (${m.refused})`);
      this.refused.add(l.device);
      l.device.takeBack();
    } else if (m.fault !== undefined) {
      l.device.faulted(m.fault);
    }
  }

  async close(): Promise<void> {
    await this.thread?.terminate();
    this.thread = undefined;
  }
}
