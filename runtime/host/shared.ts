// The host's own shared block (beside host physical memory): how pCPU
// threads hand VM exits to the root partition's thread, and each
// partition's clock epoch. Plain Atomics over one SharedArrayBuffer, so the
// data plane never goes through postMessage.
//
//   Int32 [0]        doorbell: bumped (and notified) after exits are posted
//   Int32 [1]        shutdown: non-zero tells every pCPU thread to leave
//   Int32 [16..48)   exit bitmap, one bit per vCPU (1024)
//   Float64 [32..)   clock epoch of each partition (absolute ms, see now())

const DOORBELL = 0;
const SHUTDOWN = 1;
const BITMAP = 16;
const BITMAP_WORDS = 32;
const EPOCHS = 32; // in Float64 units: byte 256
/** The kernel's MAX_PARTITIONS (kernel/layout.ts; test/runtime/host/shared.test.ts holds them equal). */
export const SHARED_MAX_PARTITIONS = 1024;
const BYTES = EPOCHS * 8 + SHARED_MAX_PARTITIONS * 8;

export class HostShared {
  readonly i32: Int32Array;
  private readonly f64: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(BYTES)) {
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer);
  }

  // ---- exits: many pCPU threads post, the root partition's thread takes ----

  /** A pCPU thread: vCPU `v` has an exit for the root partition. */
  postExit(v: number): void {
    Atomics.or(this.i32, BITMAP + (v >>> 5), 1 << (v & 31));
    Atomics.add(this.i32, DOORBELL, 1);
    Atomics.notify(this.i32, DOORBELL);
  }

  /** The root: the doorbell's value, to wait on after taking exits. */
  doorbell(): number {
    return Atomics.load(this.i32, DOORBELL);
  }

  /** The root: takes every posted exit (each vCPU once), lowest vCPU first. */
  takeExits(out: number[] = []): number[] {
    for (let w = 0; w < BITMAP_WORDS; w++) {
      if (Atomics.load(this.i32, BITMAP + w) === 0) continue;
      let bits = Atomics.exchange(this.i32, BITMAP + w, 0);
      while (bits) {
        const b = 31 - Math.clz32(bits & -bits);
        out.push(w * 32 + b);
        bits &= bits - 1;
      }
    }
    return out;
  }

  /** The root: watches the doorbell (and `also`, other work) for up to `ms`; true if it moved past `seen` (or `also` found work). */
  spinDoorbell(seen: number, ms: number, also?: () => boolean): boolean {
    const end = performance.now() + ms;
    do {
      if (Atomics.load(this.i32, DOORBELL) !== seen || also?.()) return true;
    } while (performance.now() < end);
    return false;
  }

  /** The root: resolves when the doorbell moves past `seen`, or after `ms`. */
  async waitDoorbell(seen: number, ms: number): Promise<void> {
    const r = Atomics.waitAsync(this.i32, DOORBELL, seen, ms);
    if (r.async) await r.value;
  }

  // ---- shutdown ----

  shutdown(): void {
    Atomics.store(this.i32, SHUTDOWN, 1);
  }
  get shuttingDown(): boolean {
    return Atomics.load(this.i32, SHUTDOWN) !== 0;
  }

  // ---- partition clocks ----

  /** When `partition`'s realtime clock read 0 (absolute host ms, machine/clock.ts hostNowMs). */
  setEpoch(partition: number, ms: number): void {
    this.f64[EPOCHS + partition] = ms;
  }
  epoch(partition: number): number {
    return this.f64[EPOCHS + partition]!;
  }
}
