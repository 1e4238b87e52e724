// Out-of-line events of the running instruction, and the one flag the
// interpreter tests after every instruction to notice any of them.
//
// Helpers deep in the memory path (TLB miss, page walk, MMIO) cannot unwind
// the interpreter, so they record a synchronous exception here and return a
// dummy value; CSR writes that may unmask an interrupt or change translation
// ask for a resync; devices and HTIF ask the loop to return to the host.
// Each sets `attention`, so the common instruction pays for one test.

export let attention: bool = false;

export let excPending: bool = false;
export let excCause: u32 = 0;
export let excTval: u64 = 0;

export function raise(cause: u32, tval: u64): void {
  excPending = true;
  excCause = cause;
  excTval = tval;
  attention = true;
}

/** Interrupt state or translation keys may have changed mid-slice. */
export let resyncPending: bool = false;
export function requestResync(): void {
  resyncPending = true;
  attention = true;
}

/** A device or the board wants run() to return to the host. */
export let exitRequested: bool = false;
export function requestExit(): void {
  exitRequested = true;
  attention = true;
}

export function clearEvents(): void {
  attention = false;
  excPending = false;
  resyncPending = false;
  exitRequested = false;
}
