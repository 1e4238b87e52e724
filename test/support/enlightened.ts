// Enlightened guests (the hypervisor as SBI firmware) on a fresh Machine:
// runEnlightened boots an S-mode ELF as `hv run -bios hv` does; SbiHarness
// issues single SBI calls from a vCPU and returns what the kernel answered.
import { Machine, type PagingMode } from '../../runtime/machine/machine.ts';
import { type GuestRun, runGuest } from './guest.ts';

export const BIN = 'guests/bin/enlightened';
export const RAM_BASE = 0x8000_0000;

export async function runEnlightened(
  name: string,
  options: Omit<Parameters<typeof runGuest>[1] & object, 'boot'> = {},
): Promise<GuestRun> {
  return runGuest(`${BIN}/${name}.elf`, { ...options, boot: 'enlightened' });
}

/** SBI error codes (spec table 1). */
export const SBI = {
  SUCCESS: 0n,
  FAILED: -1n,
  NOT_SUPPORTED: -2n,
  INVALID_PARAM: -3n,
  DENIED: -4n,
  INVALID_ADDRESS: -5n,
  ALREADY_AVAILABLE: -6n,
} as const;

export const EID = {
  BASE: 0x10n,
  TIME: 0x54494d45n,
  IPI: 0x735049n,
  RFENCE: 0x52464e43n,
  HSM: 0x48534dn,
  SRST: 0x53525354n,
  DBCN: 0x4442434en,
  HV: 0x0a006876n,
} as const;

/** kernel/hypercall/defs.ts SbiExit. */
export const SbiExit = { NONE: 0, CONSOLE: 1, RESET: 2, YIELD: 3, HART_STOP: 4 } as const;
/** kernel Exit. */
export const Exit = { BUDGET: 0, WFI: 1, HALT: 2, HOST: 3 } as const;
/** kernel VcpuState. */
export const State = { STOPPED: 0, RUNNABLE: 1, STARTING: 2, STOPPING: 3 } as const;

export const LEGACY_A1 = 0xa1a1_a1a1n;
const ECALL = 0x0000_0073;
const JUMP_SELF = 0x0000_006f; // jal x0, 0
const CSRR_A2_SIP = 0x1440_2673; // csrrs a2, sip, x0

export interface SbiResult {
  /** a0 as a signed value (the error, or a legacy call's result). */
  error: bigint;
  /** a1 as an unsigned value. */
  value: bigint;
  /** What vcpuRun returned. */
  exit: number;
  /** pc after the call (the ECALL's own address when it is retried). */
  pc: bigint;
}

/**
 * A partition whose code is `ecall; j .; csrr a2, sip; j .` at RAM_BASE, booted enlightened:
 * call() points a vCPU at the ECALL with the given registers and runs one
 * instruction.
 */
export class SbiHarness {
  readonly machine: Machine;
  output: number[] = [];

  constructor(readonly harts = 2, readonly ramSize = 1 << 20, paging: PagingMode = 'direct') {
    this.machine = new Machine({ ramSize, harts, clock: 'icount', paging, onConsole: (b) => this.output.push(...b) });
    const code = new Uint8Array(16);
    const dv = new DataView(code.buffer);
    dv.setUint32(0, ECALL, true);
    dv.setUint32(4, JUMP_SELF, true);
    dv.setUint32(8, CSRR_A2_SIP, true);
    dv.setUint32(12, JUMP_SELF, true);
    this.machine.loadRaw(code, RAM_BASE, 'harness code');
    this.machine.bootEnlightened(BigInt(RAM_BASE), 0);
  }

  hart(i = 0) {
    return this.machine.harts[i]!;
  }

  /** SBI call eid/fid with args a0.. from hart `on`. */
  call(eid: bigint, fid: bigint | number, args: (bigint | number)[] = [], on = 0): SbiResult {
    const h = this.hart(on);
    for (let r = 0; r < 6; r++) h.setX(10 + r, BigInt(args[r] ?? 0));
    h.setX(16, BigInt(fid));
    h.setX(17, eid);
    h.setPc(BigInt(RAM_BASE));
    const exit = this.machine.kernel.exports.vcpuRun(on, 1);
    return { error: BigInt.asIntN(64, h.getX(10)), value: h.getX(11), exit, pc: h.pc };
  }

  /** A legacy call: EID only; a1 defaults to LEGACY_A1 so tests can see it preserved. */
  legacy(eid: bigint | number, args: (bigint | number)[] = [], on = 0): SbiResult {
    const a = [...args];
    a[1] ??= LEGACY_A1;
    return this.call(BigInt(eid), 0xdead, a, on);
  }

  /** sip as S-mode software on hart `on` reads it (runs a csrr at RAM_BASE + 8). */
  sip(on = 0): bigint {
    const h = this.hart(on);
    h.setPc(BigInt(RAM_BASE + 8));
    this.machine.kernel.exports.vcpuRun(on, 1);
    return h.getX(12);
  }

  /** Runs vCPU `on` for `budget` instructions from wherever it is. */
  run(on: number, budget: number): number {
    return this.machine.kernel.exports.vcpuRun(on, budget);
  }

  /** Guest RAM at guest-physical `addr`. */
  ramAt(addr: number, length: number): Uint8Array {
    return this.machine.ram.subarray(addr - RAM_BASE, addr - RAM_BASE + length);
  }

  /** Moves hart `i`'s SBI console ring into `output`; returns it as text. */
  drain(i = 0): string {
    const out: number[] = [];
    this.hart(i).drainConsole(out);
    this.output.push(...out);
    return Buffer.from(out).toString('latin1');
  }
}
