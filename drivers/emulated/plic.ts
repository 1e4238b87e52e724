// SiFive PLIC ("sifive,plic-1.0.0", "riscv,plic0"; RISC-V PLIC spec 1.0.0,
// QEMU hw/intc/sifive_plic.c with the virt board's parameters). 32-bit
// registers only:
//
//   0x00_0000 + 4*src          priority of source src (0 = never interrupts)
//   0x00_1000 + 4*w            pending bits of sources 32w..32w+31 (read-only)
//   0x00_2000 + 0x80*ctx + 4*w enable bits of context ctx
//   0x20_0000 + 0x1000*ctx     priority threshold of context ctx
//   0x20_0004 + 0x1000*ctx     claim (read) / complete (write)
//
// Context 2h is hart h's M-mode external interrupt (MEIP), 2h+1 its S-mode one
// (SEIP), as in QEMU's "MS,MS,..." hart config. Source 0 does not exist.
//
// Each source has a gateway, as QEMU 7.2's (hw/intc/sifive_plic.c): every
// time a device drives its line high (qemu_set_irq(irq, 1): devices call it
// each time they re-evaluate their interrupt condition, not only on a change)
// the source becomes pending, also while it is claimed; a claim clears the
// pending bit and holds the source "in flight" until the completion, which
// only ends the claim: a line that stayed high without being driven again
// does not interrupt again. So an event during the handler (a byte received,
// a buffer used) interrupts again after the completion and is never lost, and
// a condition a driver leaves standing on purpose does not storm: xv6-riscv
// enables the 16550's THR-empty interrupt and never reads IIR, which would
// otherwise interrupt it again after every completion. A context's output is
// high while some enabled, pending, not in-flight source has a priority above
// its threshold.

import {
  MEMMAP,
  PLIC_CONTEXT_BASE,
  PLIC_CONTEXT_STRIDE,
  PLIC_ENABLE_BASE,
  PLIC_ENABLE_STRIDE,
  PLIC_MAX_CONTEXTS,
  PLIC_NUM_SOURCES,
  PLIC_PENDING_BASE,
  PLIC_PRIO_BITS,
  PLIC_PRIORITY_BASE,
} from '../board/memmap.ts';
import { type AccessSize, DeviceStateError, type MmioDevice, uintArrayField, uintField } from './device.ts';

/** Drives a hart's MEIP (mode 'M') or SEIP (mode 'S') from the PLIC. */
export type PlicOutput = (hart: number, mode: 'M' | 'S', level: boolean) => void;

export interface PlicOptions {
  harts: number;
  output: PlicOutput;
  /** Sources including source 0; default the virt board's 96 (riscv,ndev 95). At most 1024. */
  sources?: number;
}

const PRIO_MASK = (1 << PLIC_PRIO_BITS) - 1;

export class Plic implements MmioDevice {
  readonly name = 'plic';
  readonly stateVersion = 1;
  readonly size = MEMMAP.plic.size;
  readonly harts: number;
  readonly sources: number;
  readonly contexts: number;

  private readonly words: number; // 32-bit words of a source bitmap
  private readonly output: PlicOutput;
  private readonly priority: Uint32Array; // [source]
  private readonly threshold: Uint32Array; // [context]
  private readonly enable: Uint32Array; // [context * words + w]
  private readonly pending: Uint32Array; // [w]
  private readonly claimed: Uint32Array; // [w], in flight between claim and complete
  private readonly lines: Uint32Array; // [w], level of each input line
  private readonly outputs: Uint8Array; // [context], last level driven

  constructor(options: PlicOptions) {
    const sources = options.sources ?? PLIC_NUM_SOURCES;
    if (!Number.isInteger(options.harts) || options.harts < 1 || options.harts * 2 > PLIC_MAX_CONTEXTS) {
      throw new RangeError(`PLIC: harts must be 1..${PLIC_MAX_CONTEXTS / 2}, got ${options.harts}`);
    }
    if (!Number.isInteger(sources) || sources < 2 || sources > 1024) {
      throw new RangeError(`PLIC: sources must be 2..1024, got ${sources}`);
    }
    this.harts = options.harts;
    this.sources = sources;
    this.contexts = 2 * options.harts;
    this.words = (sources + 31) >>> 5;
    this.output = options.output;
    this.priority = new Uint32Array(sources);
    this.threshold = new Uint32Array(this.contexts);
    this.enable = new Uint32Array(this.contexts * this.words);
    this.pending = new Uint32Array(this.words);
    this.claimed = new Uint32Array(this.words);
    this.lines = new Uint32Array(this.words);
    this.outputs = new Uint8Array(this.contexts);
  }

  /**
   * Drives input line `irq` (1..sources-1); other numbers are ignored. Every
   * call with `level` true is a request (see the top of this file), also
   * when the line was high already.
   */
  setIrq(irq: number, level: boolean): void {
    if (!this.validSource(irq)) return;
    const w = irq >>> 5;
    const bit = 1 << (irq & 31);
    this.lines[w] = level ? this.lines[w]! | bit : this.lines[w]! & ~bit;
    // A forwarded request cannot be withdrawn (PLIC spec 1.0.0, "Interrupt
    // Gateways"): it stays pending until claimed, even if the device lowers
    // its line first, as on Debian's QEMU 7.2.22 (guests/tests/plic_uart.c,
    // "line dropped"; QEMU releases before the fix "hw/intc: Don't clear
    // pending bits on IRQ lowering", 2024, withdrew it).
    if (level) this.pending[w] = this.pending[w]! | bit;
    this.update();
  }

  /** True while source `irq` is pending (for tests and the playground). */
  isPending(irq: number): boolean {
    return this.validSource(irq) && (this.pending[irq >>> 5]! & (1 << (irq & 31))) !== 0;
  }

  read(offset: number, size: AccessSize): number {
    if (size !== 4 || (offset & 3) !== 0 || offset < 0) return 0;
    if (offset < PLIC_PENDING_BASE) {
      const src = (offset - PLIC_PRIORITY_BASE) >>> 2;
      return src < this.sources ? this.priority[src]! : 0;
    }
    if (offset < PLIC_ENABLE_BASE) {
      const w = (offset - PLIC_PENDING_BASE) >>> 2;
      return w < this.words ? this.pending[w]! : 0;
    }
    if (offset < PLIC_CONTEXT_BASE) {
      const ctx = Math.floor((offset - PLIC_ENABLE_BASE) / PLIC_ENABLE_STRIDE);
      const w = ((offset - PLIC_ENABLE_BASE) % PLIC_ENABLE_STRIDE) >>> 2;
      return ctx < this.contexts && w < this.words ? this.enable[ctx * this.words + w]! : 0;
    }
    const ctx = Math.floor((offset - PLIC_CONTEXT_BASE) / PLIC_CONTEXT_STRIDE);
    if (ctx >= this.contexts) return 0;
    switch ((offset - PLIC_CONTEXT_BASE) % PLIC_CONTEXT_STRIDE) {
      case 0:
        return this.threshold[ctx]!;
      case 4:
        return this.claim(ctx);
      default:
        return 0;
    }
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (size !== 4 || (offset & 3) !== 0 || offset < 0) return;
    const v = value >>> 0;
    if (offset < PLIC_PENDING_BASE) {
      const src = (offset - PLIC_PRIORITY_BASE) >>> 2;
      // Source 0 is reserved: its priority is hardwired to 0. Priorities are WARL.
      if (src === 0 || src >= this.sources) return;
      this.priority[src] = v & PRIO_MASK;
    } else if (offset < PLIC_ENABLE_BASE) {
      return; // pending bits are read-only
    } else if (offset < PLIC_CONTEXT_BASE) {
      const ctx = Math.floor((offset - PLIC_ENABLE_BASE) / PLIC_ENABLE_STRIDE);
      const w = ((offset - PLIC_ENABLE_BASE) % PLIC_ENABLE_STRIDE) >>> 2;
      if (ctx >= this.contexts || w >= this.words) return;
      this.enable[ctx * this.words + w] = v & this.implementedMask(w);
    } else {
      const ctx = Math.floor((offset - PLIC_CONTEXT_BASE) / PLIC_CONTEXT_STRIDE);
      if (ctx >= this.contexts) return;
      const reg = (offset - PLIC_CONTEXT_BASE) % PLIC_CONTEXT_STRIDE;
      if (reg === 0) this.threshold[ctx] = v & PRIO_MASK;
      else if (reg === 4) this.complete(ctx, v);
      else return;
    }
    this.update();
  }

  reset(): void {
    this.priority.fill(0);
    this.threshold.fill(0);
    this.enable.fill(0);
    this.pending.fill(0);
    this.claimed.fill(0);
    // Input lines are wires from the devices, not PLIC state: keep them, so a
    // device still asserting its line shows up as pending after the reset.
    this.pending.set(this.lines);
    this.update(true);
  }

  save(): object {
    return {
      harts: this.harts,
      sources: this.sources,
      priority: Array.from(this.priority),
      threshold: Array.from(this.threshold),
      enable: Array.from(this.enable),
      pending: Array.from(this.pending),
      claimed: Array.from(this.claimed),
      lines: Array.from(this.lines),
    };
  }

  restore(state: object): void {
    const n = this.name;
    if (uintField(state, 'harts', n) !== this.harts || uintField(state, 'sources', n) !== this.sources) {
      throw new DeviceStateError(`${n}: snapshot is for a different PLIC geometry`);
    }
    const u32 = 0xffff_ffff;
    const priority = uintArrayField(state, 'priority', n, PRIO_MASK, this.sources);
    const threshold = uintArrayField(state, 'threshold', n, PRIO_MASK, this.contexts);
    const enable = uintArrayField(state, 'enable', n, u32, this.contexts * this.words);
    const pending = uintArrayField(state, 'pending', n, u32, this.words);
    const claimed = uintArrayField(state, 'claimed', n, u32, this.words);
    const lines = uintArrayField(state, 'lines', n, u32, this.words);
    this.priority.set(priority);
    this.threshold.set(threshold);
    this.enable.set(enable);
    this.pending.set(pending);
    this.claimed.set(claimed);
    this.lines.set(lines);
    this.update(true);
  }

  /** The best source context `ctx` could claim now, or 0 (ties go to the lowest id). */
  private best(ctx: number): number {
    let bestIrq = 0;
    let bestPrio = this.threshold[ctx]!;
    const base = ctx * this.words;
    for (let w = 0; w < this.words; w++) {
      let bits = this.pending[w]! & ~this.claimed[w]! & this.enable[base + w]!;
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits); // lowest set bit first
        bits &= bits - 1;
        const irq = (w << 5) | b;
        const prio = this.priority[irq]!;
        if (prio > bestPrio) {
          bestPrio = prio;
          bestIrq = irq;
        }
      }
    }
    return bestIrq;
  }

  private claim(ctx: number): number {
    const irq = this.best(ctx);
    if (irq !== 0) {
      const w = irq >>> 5;
      const bit = 1 << (irq & 31);
      this.pending[w] = this.pending[w]! & ~bit;
      this.claimed[w] = this.claimed[w]! | bit;
      this.update();
    }
    return irq;
  }

  private complete(ctx: number, irq: number): void {
    // Spec 1.0.0 section 9: a completion for a source not enabled for the
    // context is silently ignored.
    if (!this.validSource(irq)) return;
    const w = irq >>> 5;
    const bit = 1 << (irq & 31);
    if (!(this.enable[ctx * this.words + w]! & bit)) return;
    // As QEMU: the completion ends the claim and nothing else. A request made
    // during the claim is pending already; a line that stayed high is not
    // sampled again.
    this.claimed[w] = this.claimed[w]! & ~bit;
  }

  private update(force = false): void {
    for (let ctx = 0; ctx < this.contexts; ctx++) {
      const level = this.best(ctx) !== 0 ? 1 : 0;
      if (level !== this.outputs[ctx] || force) {
        this.outputs[ctx] = level;
        this.output(ctx >>> 1, ctx & 1 ? 'S' : 'M', level === 1);
      }
    }
  }

  private validSource(irq: number): boolean {
    return Number.isInteger(irq) && irq >= 1 && irq < this.sources;
  }

  /** Bits of bitmap word `w` that name existing sources (source 0 and those past the end read 0). */
  private implementedMask(w: number): number {
    let mask = 0xffff_ffff;
    if (w === 0) mask &= ~1;
    const past = (w + 1) * 32 - this.sources;
    if (past > 0) mask &= past >= 32 ? 0 : 0xffff_ffff >>> past;
    return mask >>> 0;
  }
}
