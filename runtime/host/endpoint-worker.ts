// The endpoint worker: one thread per threaded host that serves the VMBus
// channels the root partition's thread lends it (endpoint-server.ts; today
// storvsc's), for every partition. It instantiates the kernel over the
// shared memory, as a pCPU thread does, for the ring primitives and
// synicSignal. It sleeps on one doorbell that every served connection's
// signal_event rings (the event area's HE_SERVER_BELL), reads and writes
// the rings in guest RAM, does the block I/O on the image it opened, and
// raises the guest's SINT and wakes its vCPU: no VM exit and nothing of the
// root's thread on the data path. The root takes a channel back through the
// control block (endpoint-protocol.ts) and waits for the answer; this thread
// answers between packets.
import { ticksSince } from '../machine/clock.ts';
import { openDrive } from '../machine/drives.ts';
import { threadContext } from '../platform/current.ts';
import { KernelDirtyLog } from '../../drivers/emulated/dirty.ts';
import { RamGuestMemory } from '../../drivers/emulated/dma.ts';
import { VMBUS_MESSAGE_SINT } from '../../drivers/vmbus/messages.ts';
import { ringKernel } from '../../drivers/vmbus/ring.ts';
import { ServedConnections } from '../../drivers/vmbus/served.ts';
import { StorvscDevice } from '../../drivers/vmbus/storvsc.ts';
import { SynicResult, type SynicKernel } from '../../drivers/vmbus/synic.ts';
import { Cmd, Header, slotData, slotWord, SLOT_BYTES, SLOT_DATA, SLOTS, type EndpointWorkerData, type LendMessage, type WorkerMessage } from './endpoint-protocol.ts';
import { instantiateKernel } from './kernel.ts';
import { schedExports } from './sched.ts';
import { HostShared } from './shared.ts';

/** How long it watches its doorbell before sleeping (ms): as the root's loop, a waking thread costs far more. */
const SPIN_MS = 0.05;

interface Served {
  msg: LendMessage;
  device: StorvscDevice;
}

const d = await threadContext.data<EndpointWorkerData>();
const shared = new HostShared(d.shared);
const instance = instantiateKernel(d.memory, { mmioRead: () => 0, mmioWrite: () => {}, hostClock: (id) => ticksSince(shared.epoch(id)) }, d.module);
const k = instance.exports;
const synic = k as unknown as SynicKernel;
const sched = schedExports(k);
const ring = ringKernel(k);
const i32 = new Int32Array(d.memory.buffer as ArrayBuffer);
const bell = d.control / 4 + Header.bell;
const parent = threadContext.parent;
/** By slot; and by partition, its event area's view and its served channels by relid. */
const slots = new Map<number, Served>();
const partitions = new Map<number, { events: ServedConnections; channels: Map<number, Served> }>();

const word = (slot: number, w: number) => slotWord(d.control, slot, w);
const tell = (m: WorkerMessage) => parent.postMessage(m);

function lend(m: LendMessage): void {
  // Recalled (or lent again) before this message arrived: stale.
  if (Atomics.load(i32, word(m.slot, 1)) !== m.gen || Atomics.load(i32, word(m.slot, 0)) !== Cmd.SERVE) return;
  let disk;
  try {
    disk = openDrive(m.disk);
  } catch (e) {
    tell({ slot: m.slot, gen: m.gen, refused: (e as Error).message });
    return;
  }
  const p = m.partition;
  const dirty = new KernelDirtyLog(d.memory.buffer, p.dirty, (off, len) => instance.jit.codeWritten(p.ramHost + off, len));
  const device = new StorvscDevice(disk, { instanceId: m.instanceId });
  device.attach({
    memory: d.memory,
    ring,
    guest: new RamGuestMemory(new Uint8Array(d.memory.buffer as ArrayBuffer, p.ramHost, p.ramSize), p.ramGpa, dirty),
    scratch: () => m.scratch, // the root's device's pages: it does not use them while the channel is here
    freeScratch: () => {},
    gpadl: () => undefined,
    now: () => ticksSince(shared.epoch(p.id)),
    log: (line) => console.warn(`hv: partition ${p.id}: ${line}`),
  });
  device.adopt(m.served);
  const v = p.firstVcpu + m.rings.targetVp;
  const signal = () => {
    if (synic.synicSignal(v, VMBUS_MESSAGE_SINT, m.relid) !== SynicResult.OK) return;
    k.vcpuKick(v);
    sched.schedWakeIrq(v);
  };
  device.resume({ ...m.rings, userData: new Uint8Array(120) }, signal, (reason) => tell({ slot: m.slot, gen: m.gen, fault: reason }));
  const s = { msg: m, device };
  slots.set(m.slot, s);
  let part = partitions.get(p.id);
  if (!part) partitions.set(p.id, (part = { events: new ServedConnections(d.memory, p.eventArea), channels: new Map() }));
  part.channels.set(m.relid, s);
  Atomics.add(i32, d.control / 4 + Header.lends, 1);
  device.notify(); // what the guest wrote before it came here
}

/** Gives back every channel the root asked for: stopped, its disk flushed and closed, its state in the slot. */
function recalls(): boolean {
  let any = false;
  for (let slot = 0; slot < SLOTS; slot++) {
    if (Atomics.load(i32, word(slot, 0)) !== Cmd.RECALL) continue;
    any = true;
    const s = slots.get(slot);
    let bytes = 0;
    if (s) {
      slots.delete(slot);
      const part = partitions.get(s.msg.partition.id)!;
      part.channels.delete(s.msg.relid);
      if (!part.channels.size) partitions.delete(s.msg.partition.id);
      const state = s.device.served();
      s.device.close();
      try {
        s.device.disk.flush();
      } finally {
        s.device.disk.close();
      }
      let json = new TextEncoder().encode(JSON.stringify(state));
      if (json.length > SLOT_BYTES - SLOT_DATA) json = new TextEncoder().encode(JSON.stringify({ ...state, fault: state.fault?.slice(0, 200) }));
      new Uint8Array(d.memory.buffer as ArrayBuffer, slotData(d.control, slot), json.length).set(json);
      bytes = json.length;
    }
    Atomics.store(i32, word(slot, 2), bytes);
    Atomics.store(i32, word(slot, 0), Cmd.RECALLED);
    Atomics.notify(i32, word(slot, 0));
  }
  return any;
}

const signalled: number[] = [];

/** Serves the connections signalled for this thread since the last call. */
function serve(): boolean {
  let any = false;
  for (const part of partitions.values()) {
    signalled.length = 0;
    for (const relid of part.events.take(signalled)) {
      any = true;
      part.channels.get(relid)?.device.notify();
    }
  }
  return any;
}

parent.addEventListener('message', (e) => lend((e as MessageEvent<LendMessage>).data));

const turn = () => new Promise<void>((r) => setImmediate(r));

// Sleeps in Atomics.wait, not on the event loop: a synchronous wait wakes
// within microseconds of the guest's signal, a waitAsync only after a task
// of the event loop. Lend messages arrive on the event loop, so it gets a
// turn after every wake-up that served nothing (the root rings the doorbell
// after posting one), after every sleep that timed out, and every 2 ms when
// busy.
let seen = Atomics.load(i32, bell);
let lastTurn = performance.now();
while (!shared.shuttingDown) {
  const now = Atomics.load(i32, bell);
  const moved = now !== seen;
  seen = now;
  const recalled = recalls();
  const served = serve();
  if (served) Atomics.add(i32, d.control / 4 + Header.serves, 1);
  if (!recalled && !served) {
    if (moved) {
      await turn(); // a lend message, most likely
      lastTurn = performance.now();
      continue;
    }
    const t0 = performance.now();
    while (Atomics.load(i32, bell) === seen && performance.now() - t0 < SPIN_MS) {}
    if (Atomics.wait(i32, bell, seen, 10) === 'timed-out') {
      await turn();
      lastTurn = performance.now();
    }
    continue;
  }
  if (performance.now() - lastTurn >= 2) {
    await turn();
    lastTurn = performance.now();
  }
}
