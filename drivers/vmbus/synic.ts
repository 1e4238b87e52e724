// The root partition's side of one partition's SynICs (kernel/vmbus/synic.ts):
// messages to a vCPU's SINT with the queue the TLFS puts behind a full slot,
// event flags, the guest's posted messages and signalled connections.
// Runs on the thread that owns the partition's devices (the root's worker,
// or the deterministic host's only thread).

/** The kernel exports this module calls (kernel/index.ts, "SynIC and VMBus"). */
export interface SynicKernel {
  partitionEnableVmbus(id: number, exitOnSignal: number): number;
  partitionDisableVmbus(id: number): number;
  synicDeliver(vcpu: number, sint: number, more: number): number;
  synicSignal(vcpu: number, sint: number, flag: number): number;
}

/** kernel/vmbus/synic-defs.ts SYNIC_* */
export const SynicResult = { OK: 0, BUSY: 1, OFF: 2, BAD_PAGE: 3, BAD_ARG: 4, SET: 5 } as const;
export type SynicResultCode = (typeof SynicResult)[keyof typeof SynicResult];

/** Message header and payload limits (struct hv_message, hv_input_post_message). */
export const MESSAGE_PAYLOAD_MAX = 240;
/** Messages a SINT queues behind its full slot before the host refuses more (bounds a guest that never EOMs). */
export const SINT_QUEUE_MAX = 64;

/** SynicHost.save(): messages waiting behind full slots, and connections signalled but not yet taken. */
export interface SavedSynic {
  queues: { hart: number; sint: number; messages: { type: number; payload: string }[] }[];
  signalled: number[];
}

/** A message the guest posted (HvPostMessage). */
export interface PostedMessage {
  connectionId: number;
  type: number;
  payload: Uint8Array;
}

interface Queued {
  type: number;
  payload: Uint8Array;
}

/**
 * The partition's host event area (kernel/vmbus/synic-defs.ts HE_*; tested
 * equal to the kernel's VMBUS_HE_* globals): doorbell, flags, connection bitmap;
 * and for connections an endpoint thread serves: its doorbell's address, which
 * connections it serves, and those signalled for it.
 */
export const EventArea = { doorbell: 0, flags: 4, serverBell: 8, bitmap: 64, served: 512, serverBitmap: 1024, connections: 2048 } as const;

/** Where in a vCPU block the kernel keeps what this module reads and writes (its OFF_* exports). */
export interface SynicOffsets {
  post: number;
  hostmsg: number;
  /** x0 (a0 = x10 is a hypercall's result). */
  x: number;
}

export function synicOffsets(off: Record<string, number>): SynicOffsets {
  const need = (n: string) => {
    const v = off[n];
    if (v === undefined) throw new Error(`kernel exports no OFF_${n}`);
    return v;
  };
  return { post: need('SYNIC_POST'), hostmsg: need('SYNIC_HOSTMSG'), x: need('X') };
}

/** The partition a SynicHost serves. */
export interface SynicPartition {
  id: number;
  /** vCPU index of hart 0 in the hypervisor's vCPU array, and the number of harts. */
  firstVcpu: number;
  harts: number;
  /** Host address of hart `h`'s vCPU block. */
  vcpuBase(h: number): number;
  /** Makes hart `h` look at its lines now (kick it if running, wake it if in WFI). */
  wake(h: number): void;
  /**
   * Signal-event exits to the host (the deterministic host: channel
   * endpoints run on the vCPU's own thread); without it the host watches
   * the doorbell (the threaded host's root thread: no exit on the data path).
   */
  exitOnSignal: boolean;
}

export class SynicHost {
  private readonly queues = new Map<number, Queued[]>();
  private readonly dv: DataView;
  private readonly u8: Uint8Array;
  /** Host address of the partition's host event area (signal-event lands there). */
  readonly eventArea: number;
  private readonly events: Int32Array;
  private readonly harts: number;

  constructor(
    memory: WebAssembly.Memory,
    private readonly kernel: SynicKernel,
    private readonly offsets: SynicOffsets,
    private readonly p: SynicPartition,
  ) {
    this.dv = new DataView(memory.buffer);
    this.u8 = new Uint8Array(memory.buffer);
    this.harts = p.harts;
    this.eventArea = kernel.partitionEnableVmbus(p.id, p.exitOnSignal ? 1 : 0);
    if (!this.eventArea) throw new RangeError('out of host frames for the VMBus event area');
    this.events = new Int32Array(memory.buffer as ArrayBuffer, this.eventArea, 1024);
  }

  private vcpuBase(hart: number): number {
    return this.p.vcpuBase(hart);
  }

  private checkHart(hart: number): void {
    if (!Number.isInteger(hart) || hart < 0 || hart >= this.harts) throw new RangeError(`no hart ${hart}`);
  }

  /**
   * Sends a message to SINT `sint` of `hart`: into its slot now, or behind
   * it in the SINT's queue until the guest's EOM. OFF and BAD_PAGE mean the
   * guest cannot take messages there (nothing is queued); BUSY with a full
   * queue means it has not taken the last SINT_QUEUE_MAX.
   */
  post(hart: number, sint: number, type: number, payload: Uint8Array): SynicResultCode {
    this.checkHart(hart);
    if (payload.length > MESSAGE_PAYLOAD_MAX) throw new RangeError(`message payload of ${payload.length} bytes (at most ${MESSAGE_PAYLOAD_MAX})`);
    const key = hart * 16 + sint;
    const q = this.queues.get(key);
    if (q && q.length) {
      if (q.length >= SINT_QUEUE_MAX) return SynicResult.BUSY;
      q.push({ type, payload: payload.slice() });
      return SynicResult.OK;
    }
    const r = this.deliver(hart, sint, { type, payload }, false);
    if (r === SynicResult.BUSY) this.queues.set(key, [{ type, payload: payload.slice() }]);
    return r === SynicResult.BUSY ? SynicResult.OK : r;
  }

  /** Messages waiting behind full slots of `hart` (all SINTs). */
  queued(hart: number): number {
    let n = 0;
    for (let s = 0; s < 16; s++) n += this.queues.get(hart * 16 + s)?.length ?? 0;
    return n;
  }

  /** After `hart`'s EOM: moves what its queues hold into the slots that are free now. */
  eom(hart: number): void {
    for (let s = 0; s < 16; s++) {
      const key = hart * 16 + s;
      const q = this.queues.get(key);
      while (q && q.length) {
        const r = this.deliver(hart, s, q[0]!, q.length > 1);
        if (r === SynicResult.BUSY) break;
        q.shift(); // delivered, or the guest turned the SINT off: dropped (it gets nothing on a masked SINT)
      }
      if (q && !q.length) this.queues.delete(key);
    }
  }

  private deliver(hart: number, sint: number, m: Queued, more: boolean): SynicResultCode {
    const at = this.vcpuBase(hart) + this.offsets.hostmsg;
    this.u8.fill(0, at, at + 256);
    this.dv.setUint32(at, m.type, true);
    this.u8[at + 4] = m.payload.length;
    this.u8.set(m.payload, at + 16);
    const r = this.kernel.synicDeliver(this.p.firstVcpu + hart, sint, more ? 1 : 0) as SynicResultCode;
    if (r === SynicResult.OK) this.p.wake(hart);
    return r;
  }

  /** Sets event flag `flag` of `sint` on `hart` (a channel's relid) and interrupts it if the flag was clear. */
  signal(hart: number, sint: number, flag: number): SynicResultCode {
    this.checkHart(hart);
    const r = this.kernel.synicSignal(this.p.firstVcpu + hart, sint, flag) as SynicResultCode;
    if (r === SynicResult.OK) this.p.wake(hart);
    return r;
  }

  /** The message `hart` posted (after its SbiExit.POST_MESSAGE). */
  takePost(hart: number): PostedMessage {
    this.checkHart(hart);
    const at = this.vcpuBase(hart) + this.offsets.post;
    const size = Math.min(this.dv.getUint32(at + 12, true), MESSAGE_PAYLOAD_MAX); // the kernel checked it
    return {
      connectionId: this.dv.getUint32(at, true) & 0xff_ffff,
      type: this.dv.getUint32(at + 8, true),
      payload: this.u8.slice(at + 16, at + 16 + size),
    };
  }

  /** Rewrites the result of `hart`'s hypercall (a0), while it waits in its exit. */
  setResult(hart: number, error: number): void {
    this.dv.setBigInt64(this.vcpuBase(hart) + this.offsets.x + 10 * 8, BigInt(error), true);
  }

  /** Doorbell of the event area: waits on it see every connection signalled after reading it. */
  doorbell(): number {
    return Atomics.load(this.events, EventArea.doorbell / 4);
  }

  /**
   * Resolves once the doorbell has moved past `seen` (at once if it already
   * has), or after `ms`: a host thread that serves channels sleeps on it
   * instead of taking an exit per signal (exitOnSignal off).
   */
  async waitDoorbell(seen: number, ms: number): Promise<void> {
    const r = Atomics.waitAsync(this.events, EventArea.doorbell / 4, seen, ms);
    if (r.async) await r.value;
  }

  /** Takes the connection ids the guest signalled since the last call (each once), lowest first. */
  takeSignals(out: number[] = []): number[] {
    const base = EventArea.bitmap / 4;
    for (let w = 0; w < EventArea.connections / 32; w++) {
      if (Atomics.load(this.events, base + w) === 0) continue;
      let bits = Atomics.exchange(this.events, base + w, 0);
      while (bits) {
        const b = 31 - Math.clz32(bits & -bits);
        out.push(w * 32 + b);
        bits &= bits - 1;
      }
    }
    return out;
  }

  // ---- persistence (the SynIC registers and slots are in the vCPU blocks, saved with them) ----

  save(): SavedSynic {
    const queues = [...this.queues].map(([key, q]) => ({
      hart: key >> 4, sint: key & 15, messages: q.map((m) => ({ type: m.type, payload: Buffer.from(m.payload).toString('base64') })),
    }));
    // Peeked, not taken: the partition runs on after a snapshot and takes them itself.
    const signalled: number[] = [];
    for (let w = 0; w < EventArea.connections / 32; w++) {
      const bits = Atomics.load(this.events, EventArea.bitmap / 4 + w);
      for (let b = 0; b < 32; b++) if (bits & (1 << b)) signalled.push(w * 32 + b);
    }
    return { queues, signalled };
  }

  /** Checks `s` (Error naming the field) and returns what loads it into this fresh SynicHost. */
  checkRestore(s: SavedSynic, err: (field: string, what: string) => Error): () => void {
    const queues = new Map<number, Queued[]>();
    if (!Array.isArray(s?.queues) || !Array.isArray(s.signalled)) throw err('synic', 'has no queues or signals');
    s.queues.forEach((q, i) => {
      const f = `synic.queues[${i}]`;
      if (!Number.isInteger(q?.hart) || q.hart < 0 || q.hart >= this.harts || !Number.isInteger(q.sint) || q.sint < 0 || q.sint > 15) throw err(f, 'names no SINT of this partition');
      if (!Array.isArray(q.messages) || q.messages.length > SINT_QUEUE_MAX) throw err(`${f}.messages`, `is not a list of at most ${SINT_QUEUE_MAX}`);
      queues.set(q.hart * 16 + q.sint, q.messages.map((m, j) => {
        const payload = Buffer.from(typeof m?.payload === 'string' ? m.payload : '', 'base64');
        if (!Number.isInteger(m?.type) || payload.length > MESSAGE_PAYLOAD_MAX) throw err(`${f}.messages[${j}]`, 'is not a message');
        return { type: m.type, payload: new Uint8Array(payload) };
      }));
    });
    for (const id of s.signalled) if (!Number.isInteger(id) || id < 0 || id >= EventArea.connections) throw err('synic.signalled', `holds ${String(id)}, not a connection id`);
    return () => {
      this.queues.clear();
      for (const [k, q] of queues) if (q.length) this.queues.set(k, q);
      for (const id of s.signalled) Atomics.or(this.events, EventArea.bitmap / 4 + (id >> 5), 1 << (id & 31));
    };
  }

  /** The partition is destroyed: its event area goes back to the frame pool. */
  dispose(): void {
    this.queues.clear();
    this.kernel.partitionDisableVmbus(this.p.id);
  }
}
