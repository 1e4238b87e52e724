// The SBI debug console (DBCN and the legacy putchar/getchar) as two rings.
//
// Output: a per-vCPU ring of CONS_SIZE bytes in the vCPU block (hart.ts,
// H_CONS_*). The vCPU is its only producer and the host its only consumer,
// so it needs no lock: the kernel writes bytes, then publishes the tail; the
// host copies bytes out after every run() and publishes the head. A write
// costs no exit unless the ring fills, in which case the call asks the host
// to drain it (SbiExit.CONSOLE) and the guest sees a short write (DBCN
// console_write) or the ECALL is retried (the blocking byte writes); on
// threaded hosts a finished line exits as well (dbcn.ts).
//
// Input: a per-partition ring of CONS_IN_SIZE bytes in the partition
// descriptor, filled by the host (sbiConsoleInput) and drained by whichever
// vCPU reads; readers claim bytes with a compare-and-swap on the head.
import { hart, CONS_SIZE, H_CONS_BUF, H_CONS_HEAD, H_CONS_TAIL } from '../cpu/hart';
import { CONS_IN_SIZE, P_CONS_IN_BUF, P_CONS_IN_HEAD, P_CONS_IN_TAIL } from '../mm/partition';

/** Free bytes in the running vCPU's output ring. */
export function consoleFree(): u32 {
  const head = atomic.load<u32>(hart, H_CONS_HEAD);
  const tail = load<u32>(hart, H_CONS_TAIL);
  return CONS_SIZE - (tail - head);
}

/** Copies `n` bytes (n <= consoleFree()) from host address `src` into the output ring; true if one was a newline. */
export function consoleWrite(src: usize, n: u32): bool {
  let tail = load<u32>(hart, H_CONS_TAIL);
  let newline = false;
  for (let i: u32 = 0; i < n; i++) {
    const b = load<u8>(src + i);
    newline |= b == 10;
    store<u8>(hart + H_CONS_BUF + (tail & (CONS_SIZE - 1)), b);
    tail++;
  }
  atomic.store<u32>(hart, tail, H_CONS_TAIL);
  return newline;
}

/** Appends one byte; false when the ring is full. */
export function consolePut(b: u8): bool {
  const tail = load<u32>(hart, H_CONS_TAIL);
  if (tail - atomic.load<u32>(hart, H_CONS_HEAD) >= CONS_SIZE) return false;
  store<u8>(hart + H_CONS_BUF + (tail & (CONS_SIZE - 1)), b);
  atomic.store<u32>(hart, tail + 1, H_CONS_TAIL);
  return true;
}

/** Takes one input byte of partition `p`, or -1 when there is none. */
export function consoleGet(p: usize): i32 {
  for (;;) {
    const head = atomic.load<u32>(p, P_CONS_IN_HEAD);
    if (head == atomic.load<u32>(p, P_CONS_IN_TAIL)) return -1;
    const b = <i32>load<u8>(p + P_CONS_IN_BUF + (head & (CONS_IN_SIZE - 1)));
    if (atomic.cmpxchg<u32>(p, head, head + 1, P_CONS_IN_HEAD) == head) return b;
  }
  return -1; // not reached
}

/** Host side: queues one input byte for partition `p`; false when the ring is full. */
export function consoleInput(p: usize, b: u8): bool {
  const tail = load<u32>(p, P_CONS_IN_TAIL);
  if (tail - atomic.load<u32>(p, P_CONS_IN_HEAD) >= CONS_IN_SIZE) return false;
  store<u8>(p + P_CONS_IN_BUF + (tail & (CONS_IN_SIZE - 1)), b);
  atomic.store<u32>(p, tail + 1, P_CONS_IN_TAIL);
  return true;
}
