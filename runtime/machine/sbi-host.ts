// The host's side of the hypervisor as SBI firmware (kernel/hypercall) for
// one enlightened partition: the debug console's bytes in both directions,
// and the SBI calls that end a run (system reset).
import { Exit } from '../host/kernel.ts';
import type { RunResult } from './machine.ts';
import type { VcpuView } from './vcpu-view.ts';

/** What an SBI call asks of the host (kernel/hypercall/defs.ts SbiExit). */
const SbiExit = { NONE: 0, CONSOLE: 1, RESET: 2, YIELD: 3, HART_STOP: 4 } as const;

export class SbiHost {
  /** Input for the SBI console not yet in the kernel's ring (it takes what fits). */
  private input: number[];
  /** Console output not yet passed on, per vCPU (a line being written). */
  private readonly partial: number[][] = [];

  constructor(
    private readonly harts: readonly VcpuView[],
    /** Puts one input byte into the kernel's ring; false when it is full. */
    private readonly toRing: (byte: number) => boolean,
    /** Console output, a byte at a time. */
    private readonly out: (byte: number) => void,
    input: readonly number[] = [],
    /** Other requests (VMBus's, drivers/vmbus/host.ts) of hart `hart`, which waits in its exit. */
    private readonly onRequest?: (hart: number, kind: number) => void,
  ) {
    this.input = [...input];
  }

  /** Input not yet taken by the guest (for a save file). */
  get pendingInput(): number[] {
    return [...this.input];
  }

  /** Guest bytes typed at the host. */
  type(bytes: Uint8Array | string): void {
    for (const b of typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes) this.input.push(b);
    this.feed();
  }

  /** Moves waiting input into the kernel's ring, as far as it has room. */
  feed(): void {
    let n = 0;
    while (n < this.input.length && this.toRing(this.input[n]!)) n++;
    if (n) this.input.splice(0, n);
  }

  /** Moves the vCPUs' console bytes to the output: whole lines only, or everything. */
  drain(wholeLines: boolean): void {
    this.harts.forEach((h, i) => {
      const pending = (this.partial[i] ??= []);
      h.drainConsole(pending);
      const n = wholeLines ? pending.lastIndexOf(10) + 1 : pending.length;
      if (n > 0) for (const b of pending.splice(0, n)) this.out(b);
    });
  }

  /**
   * After vCPU `h` ran and returned `exit`: its console bytes go out, and an
   * SBI call that needs the host is serviced. Returns the run's result when
   * the call ends it (SRST); console-full, yield and hart_stop need nothing more.
   */
  afterRun(h: VcpuView, exit: number): RunResult | undefined {
    // Whole lines of every vCPU's ring, in hart order: on a threaded host
    // the others run meanwhile (and exit at each line they finish), so
    // lines stay whole and in the order they were finished.
    this.drain(true);
    if (exit !== Exit.HOST) return undefined;
    const req = h.takeSbiExit();
    if (req.kind === SbiExit.RESET) return srstResult(req.type, req.reason);
    if (req.kind > SbiExit.HART_STOP) this.onRequest?.(this.harts.indexOf(h), req.kind);
    return undefined;
  }
}

/**
 * SBI system_reset as a RunResult. Shutdown exits with code 0 for reason
 * "no reason", 1 for "system failure", and n for our implementation-specific
 * reason 0xE0000000 | n (kernel/hypercall/defs.ts).
 */
function srstResult(type: number, reason: number): RunResult {
  if (type === 1) return { kind: 'reset', type: 'cold' };
  if (type === 2) return { kind: 'reset', type: 'warm' };
  const code = reason === 0 ? 0 : reason >>> 0 >= 0xe000_0000 ? reason & 0xff : 1;
  return { kind: 'exit', code, reason: 'sbi' };
}
