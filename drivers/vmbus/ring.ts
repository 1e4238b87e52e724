// The host's view of a VMBus ring buffer (kernel/vmbus/): the same layout,
// read with Atomics from any thread over the shared memory, and the
// kernel's ring primitives for packets. The numbers below are the kernel's
// (kernel/vmbus/defs.ts); test/drivers/vmbus/ring.test.ts checks that they agree.

/** struct hv_ring_buffer and struct vmpacket_descriptor offsets (include/linux/hyperv.h). */
export const RingLayout = {
  writeIndex: 0,
  readIndex: 4,
  interruptMask: 8,
  pendingSendSz: 12,
  featureBits: 64,
  featPendingSendSz: 1,
  headerSize: 4096,
  maxSize: 1 << 30,
  pktType: 0,
  pktOffset8: 2,
  pktLen8: 4,
  pktFlags: 6,
  pktTransId: 8,
  pktDescSize: 16,
  pktTrailer: 8,
  pktMaxLen: 0xffff * 8,
} as const;

/** The kernel's results: >= 0 succeeded. */
export const RingResult = {
  OK: 0,
  /** Succeeded; signal the other end. */
  SIGNAL: 1,
  EMPTY: -1,
  FULL: -2,
  NO_ROOM: -3,
  BAD_INDEX: -4,
  BAD_PACKET: -5,
  BAD_SIZE: -6,
  TOO_BIG: -7,
} as const;

/** enum vmbus_packet_type */
export const PacketType = {
  SYNCH: 0x1,
  ADD_XFER_PAGESET: 0x2,
  RM_XFER_PAGESET: 0x3,
  ESTABLISH_GPADL: 0x4,
  TEARDOWN_GPADL: 0x5,
  DATA_INBAND: 0x6,
  DATA_USING_XFER_PAGES: 0x7,
  DATA_USING_GPADL: 0x8,
  DATA_USING_GPA_DIRECT: 0x9,
  CANCEL_REQUEST: 0xa,
  COMP: 0xb,
} as const;
export const COMPLETION_REQUESTED = 1;

/** The kernel exports this module calls (kernel/index.ts, "VMBus ring buffers"). */
export interface RingKernel {
  ringInit(ring: number, size: number): number;
  ringWrite(ring: number, size: number, type: number, flags: number, transLo: number, transHi: number, src: number, len: number): number;
  ringWriteAt(ring: number, size: number, type: number, offset8: number, flags: number, transLo: number, transHi: number, src: number, len: number): number;
  ringPeek(ring: number, size: number, desc: number): number;
  ringRead(ring: number, size: number, dst: number, dstLen: number, desc: number, raw: number): number;
  ringReadBatch(ring: number, size: number, dst: number, dstLen: number, max: number, info: number): number;
  ringAvail(ring: number, size: number): number;
  ringFree(ring: number, size: number): number;
  ringBeginRead(ring: number): void;
  ringEndRead(ring: number, size: number): number;
  ringSetPendingSend(ring: number, bytes: number): void;
}

/** Bytes a packet of `len` payload bytes takes in the ring, trailer included (a write needs free > this). */
export function packetFootprint(len: number): number {
  return ((RingLayout.pktDescSize + len + 7) & ~7) + RingLayout.pktTrailer;
}

/** A packet's descriptor as ringPeek/ringRead leave it. */
export interface PacketDescriptor {
  type: number;
  offset8: number;
  len8: number;
  flags: number;
  transId: bigint;
}

/**
 * One ring at host address `base` (its header page), `size` bytes with the
 * header. The kernel instance may be this thread's own; all state is in the
 * shared memory.
 */
export class VmbusRing {
  private readonly u32: Uint32Array;

  constructor(
    readonly kernel: RingKernel,
    readonly memory: WebAssembly.Memory,
    readonly base: number,
    readonly size: number,
  ) {
    if (base % 4096 !== 0) throw new RangeError(`ring at 0x${base.toString(16)} is not page aligned`);
    this.u32 = new Uint32Array(memory.buffer, base, RingLayout.headerSize / 4);
  }

  get dataSize(): number {
    return this.size - RingLayout.headerSize;
  }
  get writeIndex(): number {
    return Atomics.load(this.u32, RingLayout.writeIndex / 4);
  }
  get readIndex(): number {
    return Atomics.load(this.u32, RingLayout.readIndex / 4);
  }
  get interruptMask(): number {
    return Atomics.load(this.u32, RingLayout.interruptMask / 4);
  }
  get pendingSendSz(): number {
    return Atomics.load(this.u32, RingLayout.pendingSendSz / 4);
  }
  get featureBits(): number {
    return Atomics.load(this.u32, RingLayout.featureBits / 4);
  }

  init(): number {
    return this.kernel.ringInit(this.base, this.size);
  }
  /**
   * Writes one packet of `len` bytes at host address `src`: OK, SIGNAL
   * (signal the reader) or < 0. A `transId` that is a number (a safe
   * integer >= 0) costs no BigInt on the way.
   */
  write(type: number, flags: number, transId: bigint | number, src: number, len: number): number {
    return typeof transId === 'number'
      ? this.kernel.ringWrite(this.base, this.size, type, flags, transId >>> 0, Math.floor(transId / 2 ** 32) >>> 0, src, len)
      : this.kernel.ringWrite(this.base, this.size, type, flags, Number(transId & 0xffff_ffffn), Number((transId >> 32n) & 0xffff_ffffn), src, len);
  }
  /** As write, for a packet with its own header after the descriptor: `src` is all of it after the descriptor, the payload from offset8 * 8. */
  writeAt(type: number, offset8: number, flags: number, transId: bigint, src: number, len: number): number {
    return this.kernel.ringWriteAt(this.base, this.size, type, offset8, flags, Number(transId & 0xffff_ffffn), Number((transId >> 32n) & 0xffff_ffffn), src, len);
  }
  /** Reads one packet into `dst` (`dstLen` bytes), its descriptor to `desc` (16 bytes): OK, SIGNAL (signal the writer) or < 0. */
  read(dst: number, dstLen: number, desc: number, raw = false): number {
    return this.kernel.ringRead(this.base, this.size, dst, dstLen, desc, raw ? 1 : 0);
  }
  /**
   * Reads up to `max` whole packets (descriptor and payload, len8 * 8 bytes
   * each) back to back into `dst`, committing the read index once for all:
   * how many (0 when empty) or < 0 for a first packet that is malformed or
   * too large. `info` (8 bytes of shared memory) gets the bytes written (u32)
   * and 1 when the writer must be signalled (u32).
   */
  readBatch(dst: number, dstLen: number, max: number, info: number): number {
    return this.kernel.ringReadBatch(this.base, this.size, dst, dstLen, max, info);
  }
  peek(desc: number): number {
    return this.kernel.ringPeek(this.base, this.size, desc);
  }
  /** Bytes to read, or < 0 for a corrupt index. */
  avail(): number {
    return this.kernel.ringAvail(this.base, this.size);
  }
  /** Free bytes, or < 0 for a corrupt index. */
  free(): number {
    return this.kernel.ringFree(this.base, this.size);
  }
  beginRead(): void {
    this.kernel.ringBeginRead(this.base);
  }
  /** Unmasks and returns what arrived meanwhile (read on if > 0). */
  endRead(): number {
    return this.kernel.ringEndRead(this.base, this.size);
  }
  setPendingSend(bytes: number): void {
    this.kernel.ringSetPendingSend(this.base, bytes);
  }

  /** The descriptor ringPeek/ringRead left at host address `desc`. */
  descriptorAt(desc: number): PacketDescriptor {
    // A fresh view: the memory may have grown since this ring was made.
    const v = new DataView(this.memory.buffer, desc, RingLayout.pktDescSize);
    return {
      type: v.getUint16(RingLayout.pktType, true),
      offset8: v.getUint16(RingLayout.pktOffset8, true),
      len8: v.getUint16(RingLayout.pktLen8, true),
      flags: v.getUint16(RingLayout.pktFlags, true),
      transId: v.getBigUint64(RingLayout.pktTransId, true),
    };
  }
}

/** The ring exports of a kernel instance's exports object, checked present. */
export function ringKernel(exports: object): RingKernel {
  const k = exports as Record<string, unknown>;
  for (const name of ['ringInit', 'ringWrite', 'ringWriteAt', 'ringPeek', 'ringRead', 'ringReadBatch', 'ringAvail', 'ringFree', 'ringBeginRead', 'ringEndRead', 'ringSetPendingSend']) {
    if (typeof k[name] !== 'function') throw new TypeError(`kernel has no ${name} export (stale build/kernel.wasm?)`);
  }
  return exports as RingKernel;
}
