// Out-of-line events of the running instruction, and the one flag the
// interpreter tests after every instruction to notice any of them.
//
// Helpers deep in the memory path (TLB miss, page walk, MMIO) cannot unwind
// the interpreter, so they record a synchronous exception here and return a
// dummy value; CSR writes that may unmask an interrupt or change translation
// ask for a resync; devices and HTIF ask the loop to return to the host.
// Each sets the running vCPU's attention word (in its block, so the
// interpreter tests it with one load from its register-file pointer, and so
// another thread can kick a running vCPU by setting it atomically).
import { hart, H_ATTENTION, H_MM_REQ, H_NOMEM_GPA } from './hart';
import { shootdownServe } from '../mm/shootdown';

@inline function setAttention(): void {
  store<u32>(hart, 1, H_ATTENTION);
}

/**
 * Not an exception: the instruction is abandoned (pc stays, nothing retires)
 * and run() returns Exit.HOST; used by MMIO exits to the root partition.
 */
export const CAUSE_RETRY: u32 = 0xffff;

export let excPending: bool = false;
export let excCause: u32 = 0;
export let excTval: u64 = 0;

export function raise(cause: u32, tval: u64): void {
  excPending = true;
  excCause = cause;
  excTval = tval;
  setAttention();
}

/**
 * The no-memory exit: a store to guest-physical `gpa` needed a host frame
 * (demand allocation, a copy-on-write break) and the pool had none. The
 * instruction is abandoned as for an MMIO exit (CAUSE_RETRY: run() returns
 * Exit.HOST, pc stays); H_NOMEM_GPA tells the root why, which reclaims
 * frames and either runs the vCPU again or stops its partition
 * (runtime/host/memory-pressure.ts). The guest sees nothing.
 */
export function raiseNoMemory(gpa: u64): void {
  store<u64>(hart, (gpa & ~<u64>0xfff) | 1, H_NOMEM_GPA); // | 1: page 0 is a page too
  raise(CAUSE_RETRY, 0);
}

/** Interrupt state or translation keys may have changed mid-slice (the attention path re-checks both). */
export function requestResync(): void {
  setAttention();
}

/** A device or the board wants run() to return to the host. */
export let exitRequested: bool = false;
export function requestExit(): void {
  exitRequested = true;
  setAttention();
}

export function clearEvents(): void {
  atomic.store<u32>(hart + H_ATTENTION, 0); // another thread may be kicking (vcpuKick)
  excPending = false;
  exitRequested = false;
  // An instruction boundary: drop the TLB entries of frames another thread
  // remapped (page sharing, ballooning: mm/shootdown.ts). After clearing
  // attention, so a request pushed meanwhile sets it again.
  if (atomic.load<u32>(hart + H_MM_REQ)) shootdownServe();
}
