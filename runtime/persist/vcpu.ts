// A vCPU's record: its 16 KiB block (kernel/cpu/hart.ts) up to the software
// TLB, as bytes. Registers, FP, pc, privilege, every CSR, PMP, the CLINT's
// mtimecmp/msip, pending interrupt lines, the SBI HSM state and console ring,
// counters: all guest state, position-independent, moved verbatim.
// Not moved: host addresses (owning partition, shadow root: the target's are
// kept), the scheduler's per-vCPU state (the target host's), and the TLB,
// which is flushed on restore, never trusted. The LR/SC reservation holds a
// host address: it travels as a guest-physical one.
//
//   body: u32 layout fingerprint (crc32 of the kernel's exported offsets),
//         then the block's first OFF_TLB bytes
import { crc32 } from 'node:zlib';
import type { KernelInstance } from '../host/kernel.ts';
import { PersistError } from './errors.ts';
import type { StateRecord } from './record.ts';

export const VCPU_RECORD_VERSION = 1;
const NONE = 0xffff_ffff_ffff_ffffn;

/** Identifies the kernel's vCPU and partition layout: a record from a kernel laid out otherwise is refused. */
export function layoutFingerprint(kernel: KernelInstance): number {
  const off = Object.entries(kernel.layout.off).sort(([a], [b]) => (a < b ? -1 : 1));
  return crc32(JSON.stringify([kernel.layout.vcpuSize, off]));
}

function offsets(kernel: KernelInstance) {
  const o = kernel.layout.off;
  const get = (n: string) => {
    const v = o[n];
    if (v === undefined) throw new Error(`kernel exports no offset ${n}`);
    return v;
  };
  return {
    tlb: get('TLB'),
    partition: get('PARTITION'),
    shadowRoot: get('SHADOW_ROOT'),
    shadowFlush: get('SHADOW_FLUSH_PENDING'),
    preempt: get('PREEMPT'),
    attention: get('ATTENTION'),
    sched: get('SCHED'),
    schedSize: get('SCHED_SIZE'),
    resv: get('RESV_ADDR'),
    spLo: get('TLB_SP_LO'),
    spHi: get('TLB_SP_HI'),
    tlbCtx: get('TLB_CTX'),
    consHead: get('CONS_HEAD'),
    consTail: get('CONS_TAIL'),
    state: get('STATE'),
    priv: get('PRIV'),
    hartid: get('HARTID'),
    mmioState: get('MMIO_STATE'),
    flushes: get('STAT_TLB_FLUSHES'),
    dirtySeen: get('DIRTY_SEEN'),
    dirtyRunning: get('DIRTY_RUNNING'),
  };
}

export interface RamPlace {
  /** Host address and guest-physical base and size of the partition's RAM. */
  host: number;
  gpa: number;
  size: number;
  /**
   * RAM is not one host run (memory overcommit: pages move to shared
   * frames): a host address has no guest-physical address to save, so the
   * LR/SC reservation is dropped; the guest's next SC fails and it retries,
   * as after any lost reservation.
   */
  paged?: boolean;
}

export function saveVcpu(kernel: KernelInstance, memory: WebAssembly.Memory, index: number, base: number, ram: RamPlace): StateRecord {
  const o = offsets(kernel);
  const body = new Uint8Array(4 + o.tlb);
  const dv = new DataView(body.buffer);
  dv.setUint32(0, layoutFingerprint(kernel), true);
  body.set(new Uint8Array(memory.buffer, base, o.tlb), 4);
  const at = (off: number) => 4 + off;
  // Host-specific words read as zero in the record.
  dv.setUint32(at(o.partition), 0, true);
  dv.setUint32(at(o.shadowRoot), 0, true);
  dv.setUint32(at(o.shadowFlush), 0, true);
  dv.setUint32(at(o.preempt), 0, true);
  dv.setUint32(at(o.attention), 0, true);
  dv.setUint32(at(o.dirtySeen), 0, true); // the dirty log's generations are this host's
  dv.setUint32(at(o.dirtyRunning), 0, true);
  body.fill(0, at(o.sched), at(o.sched + o.schedSize));
  dv.setBigUint64(at(o.spLo), NONE, true);
  dv.setBigUint64(at(o.spHi), 0n, true);
  const resv = dv.getBigUint64(at(o.resv), true);
  if (resv !== NONE) dv.setBigUint64(at(o.resv), ram.paged ? NONE : resv - BigInt(ram.host) + BigInt(ram.gpa), true);
  return { kind: `vcpu${index}`, version: VCPU_RECORD_VERSION, body };
}

/**
 * Checks vCPU record `body` for hart `index` and returns a function that
 * loads it into the block at `base` (vCPU number `vcpu` of the kernel).
 */
export function checkVcpu(kernel: KernelInstance, body: Uint8Array, index: number, ram: RamPlace): (memory: WebAssembly.Memory, base: number, vcpu: number) => void {
  const o = offsets(kernel);
  const who = `vcpu${index}`;
  if (body.length !== 4 + o.tlb) throw new PersistError(who, `record is ${body.length} bytes, a vCPU's is ${4 + o.tlb}`);
  const dv = new DataView(body.buffer, body.byteOffset, body.length);
  if (dv.getUint32(0, true) !== layoutFingerprint(kernel)) throw new PersistError(who, 'saved by a kernel with another vCPU layout');
  const at = (off: number) => 4 + off;
  const field = (name: string, ok: boolean, what: string) => {
    if (!ok) throw new PersistError(`${who}.${name}`, what);
  };
  field('hartid', dv.getUint32(at(o.hartid), true) === index, `is ${dv.getUint32(at(o.hartid), true)}, expected ${index}`);
  field('state', dv.getUint32(at(o.state), true) <= 3, 'is not a vCPU run state');
  field('priv', [0, 1, 3].includes(dv.getUint32(at(o.priv), true)), 'is not a privilege level (0, 1, 3)');
  // Words the host or the kernel index with: a record cannot make them reach
  // outside the vCPU's own state (its CRC only guards against accidents).
  const consFill = (dv.getUint32(at(o.consTail), true) - dv.getUint32(at(o.consHead), true)) >>> 0;
  field('cons_tail', consFill <= kernel.layout.consSize, `the SBI console ring holds ${consFill} bytes, more than its ${kernel.layout.consSize}`);
  field('tlb_ctx', dv.getUint32(at(o.tlbCtx), true) === 0, 'slot 0 (Bare and M-mode) names an address space');
  // MMIO accesses complete synchronously or before the partition pauses: none may be waiting.
  field('mmio_state', dv.getUint32(at(o.mmioState), true) !== 1, 'a device access is in flight (not a paused partition)');
  const resv = dv.getBigUint64(at(o.resv), true);
  const resvOk = resv === NONE || (resv >= BigInt(ram.gpa) && resv + 8n <= BigInt(ram.gpa + ram.size));
  field('resv_addr', resvOk, 'LR/SC reservation outside RAM');
  return (memory, base, vcpu) => {
    const block = new Uint8Array(memory.buffer, base, o.tlb);
    const live = new DataView(memory.buffer, base, o.tlb);
    const keep = {
      partition: live.getUint32(o.partition, true),
      shadowRoot: live.getUint32(o.shadowRoot, true),
      preempt: live.getUint32(o.preempt, true),
      sched: block.slice(o.sched, o.sched + o.schedSize),
    };
    block.set(body.subarray(4));
    live.setUint32(o.partition, keep.partition, true);
    live.setUint32(o.shadowRoot, keep.shadowRoot, true);
    live.setUint32(o.shadowFlush, keep.shadowRoot ? 1 : 0, true); // its shadow describes other guest memory
    live.setUint32(o.preempt, keep.preempt, true);
    block.set(keep.sched, o.sched);
    if (resv !== NONE) live.setBigUint64(o.resv, resv - BigInt(ram.gpa) + BigInt(ram.host), true);
    live.setUint32(o.attention, 1, true); // look at interrupts before the first instruction
    const flushes = live.getBigUint64(o.flushes, true);
    kernel.exports.vcpuFlushTlb(vcpu);
    live.setBigUint64(o.flushes, flushes, true); // the flush is the host's, not the guest's
  };
}
