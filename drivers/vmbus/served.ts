// Connections of a partition served by an endpoint thread of their own
// (runtime/host/endpoint-worker.ts) instead of the thread that watches the
// event area's doorbell (synic.ts). The kernel's signal_event reads the
// event area's server bitmap: a served connection's signal sets its bit in
// the server's signalled bitmap and rings the server's doorbell, a u32 in
// shared memory that one thread waits on for every partition it serves
// (kernel/vmbus/synic-defs.ts HE_SERVER_*). Both threads use this view.
import { EventArea } from './synic.ts';

export class ServedConnections {
  private readonly i32: Int32Array;

  /** `area`: host address of the partition's event area (SynicHost.eventArea). */
  constructor(memory: WebAssembly.Memory, readonly area: number) {
    this.i32 = new Int32Array(memory.buffer as ArrayBuffer, area, 1024);
  }

  /** The server's doorbell (host address, 4-aligned): set before the first serve(). */
  setBell(addr: number): void {
    if (addr % 4 !== 0) throw new RangeError(`doorbell at 0x${addr.toString(16)} is not 4-aligned`);
    Atomics.store(this.i32, EventArea.serverBell / 4, addr);
  }

  /** Later signals of connection `id` go to the server. */
  serve(id: number): void {
    Atomics.or(this.i32, EventArea.served / 4 + (id >> 5), 1 << (id & 31));
  }

  /** Later signals of `id` go to the event area's own doorbell again (the caller drains the ring once: one may have gone to the server meanwhile). */
  unserve(id: number): void {
    Atomics.and(this.i32, EventArea.served / 4 + (id >> 5), ~(1 << (id & 31)));
    Atomics.and(this.i32, EventArea.serverBitmap / 4 + (id >> 5), ~(1 << (id & 31)));
  }

  served(id: number): boolean {
    return (Atomics.load(this.i32, EventArea.served / 4 + (id >> 5)) & (1 << (id & 31))) !== 0;
  }

  /** The server: takes the connections signalled for it since the last call (each once), lowest first. */
  take(out: number[] = []): number[] {
    const base = EventArea.serverBitmap / 4;
    for (let w = 0; w < EventArea.connections / 32; w++) {
      if (Atomics.load(this.i32, base + w) === 0) continue;
      let bits = Atomics.exchange(this.i32, base + w, 0);
      while (bits) {
        const b = 31 - Math.clz32(bits & -bits);
        out.push(w * 32 + b);
        bits &= bits - 1;
      }
    }
    return out;
  }
}
