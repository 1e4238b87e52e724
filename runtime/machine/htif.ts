// HTIF, the host-target interface of spike and the official riscv-tests:
// the guest writes a command to the `tohost` symbol, the host answers in
// `fromhost`. We implement what bare-metal tests use:
//   device 0, cmd 0, payload odd:  exit with code payload >> 1 (0 = pass)
//   device 1, cmd 1:               console putchar (payload & 0xff)
// tohost layout: device[63:56] cmd[55:48] payload[47:0].
import type { GuestMemory } from '../../drivers/emulated/dma.ts';
import type { RunResult } from './types.ts';

export type HtifResult = { kind: 'none' } | { kind: 'exit'; code: number } | { kind: 'putchar'; byte: number };

export function decodeTohost(value: bigint): HtifResult {
  if (value === 0n) return { kind: 'none' };
  const device = Number(value >> 56n);
  const cmd = Number((value >> 48n) & 0xffn);
  const payload = value & 0xffff_ffff_ffffn;
  if (device === 0 && cmd === 0 && (payload & 1n) === 1n) return { kind: 'exit', code: Number(payload >> 1n) };
  if (device === 1 && cmd === 1) return { kind: 'putchar', byte: Number(payload & 0xffn) };
  return { kind: 'none' };
}

/** fromhost acknowledgement of a console command (spike's bcd device). */
export function consoleAck(): bigint {
  return (1n << 56n) | (1n << 48n);
}

/**
 * A partition's HTIF after a vCPU exited: takes the guest's command out of
 * `tohost` (0n: the guest has none) and performs it. Through `mem`, the
 * host side's guest memory: its writes mark the dirty log and break
 * sharing. Returns the exit the guest asked for; a console byte goes to
 * `putchar` and is acknowledged in `fromhost` (if the guest has one).
 */
export function serviceHtif(mem: GuestMemory, tohost: bigint, fromhost: bigint, putchar: (byte: number) => void): RunResult | undefined {
  if (tohost === 0n) return undefined;
  const cmd = decodeTohost(mem.u64(Number(tohost)));
  if (cmd.kind === 'none') return undefined;
  mem.setU64(Number(tohost), 0n);
  if (cmd.kind === 'exit') return { kind: 'exit', code: cmd.code, reason: 'htif' };
  putchar(cmd.byte);
  if (fromhost) mem.setU64(Number(fromhost), consoleAck());
  return undefined;
}
