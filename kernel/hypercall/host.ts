// The host's side of the SBI firmware: exported through kernel/index.ts.
import { vcpuAddr } from '../layout';
import { H_STATE, VcpuState } from '../cpu/hart';
import { partitionAddr, P_FLAGS, PF_ENLIGHTENED } from '../mm/partition';
import { consoleInput } from './console';
import { enterSupervisor } from './harts';

/** Makes the hypervisor partition `id`'s SBI firmware (or stops being it). */
export function partitionSetEnlightened(id: u32, on: bool): void {
  const p = partitionAddr(id);
  const f = load<u32>(p, P_FLAGS);
  store<u32>(p, on ? f | PF_ENLIGHTENED : f & ~PF_ENLIGHTENED, P_FLAGS);
}

/**
 * Boot of an enlightened partition: vCPU `index` (already vcpuReset) enters
 * S-mode at `pc` with a0/a1 as given (hartid, device tree), RUNNABLE.
 */
export function vcpuEnterSupervisor(index: u32, pc: u64, a0: u64, a1: u64): void {
  const v = vcpuAddr(index);
  enterSupervisor(v, pc, a0, a1);
  atomic.store<u32>(v + H_STATE, VcpuState.RUNNABLE);
}

/** vCPU `index` is STOPPED: it does not run until an SBI HSM hart_start. */
export function vcpuStop(index: u32): void {
  atomic.store<u32>(vcpuAddr(index) + H_STATE, VcpuState.STOPPED);
}

/** Queues a console input byte for partition `id`'s SBI console; false when its ring is full. */
export function sbiConsoleInput(id: u32, byte: u32): bool {
  return consoleInput(partitionAddr(id), <u8>byte);
}
