// Physical accesses that are not RAM: the in-kernel CLINT, else the root
// partition's device models, reached one of two ways:
//
//  - synchronously (one-thread hosts): imported functions the host's bus
//    serves there and then. Host devices see accesses of 1, 2 or 4 bytes; an
//    8-byte access becomes two 4-byte ones, low half first (v86-style
//    per-width import surface). An access the host cannot serve calls back
//    mmioFault(), which the kernel turns into an access-fault exception.
//  - by exit (partitions with PF_MMIO_EXIT, threaded hosts), as KVM does:
//    the access is recorded in the vCPU block (H_MMIO_*), the instruction is
//    abandoned and run() returns Exit.HOST; the vCPU blocks while its pCPU
//    runs others. The root partition performs the access, completes the
//    record (DONE with the value read, or FAULT) and wakes the vCPU, which
//    runs the same instruction again and this time takes the completion.
import { hart, H_MMIO_ADDR, H_MMIO_KIND, H_MMIO_SIZE, H_MMIO_STATE, H_MMIO_VALUE, H_PARTITION, H_STAT_MMIO, MmioState } from '../cpu/hart';
import { P_FLAGS, P_ID, PF_MMIO_EXIT } from '../mm/partition';
import { CLINT_BASE, CLINT_SIZE, clintRead, clintWrite } from './aclint';
import { CAUSE_RETRY, raise, requestResync } from '../cpu/exception';

// The partition id says whose board the access is for: a pCPU runs vCPUs of
// many partitions.
@external('env', 'mmioRead')
declare function hostMmioRead(partition: u32, addr: u32, size: u32): u32;
@external('env', 'mmioWrite')
declare function hostMmioWrite(partition: u32, addr: u32, size: u32, value: u32): void;

@inline function partitionOf(): usize {
  return <usize>load<u32>(hart, H_PARTITION);
}

let faulted: bool = false;

/** Called by the host from inside mmioRead/mmioWrite: no device there. */
export function mmioFault(): void {
  faulted = true;
}

@inline function count(): void {
  store<u64>(hart, load<u64>(hart, H_STAT_MMIO) + 1, H_STAT_MMIO);
}

/**
 * Set around the byte-by-byte emulation of a misaligned access: an access
 * that must exit cannot be split (one record per instruction), so it faults.
 */
let mmioSplit: bool = false;
export function setMmioSplit(on: bool): void {
  mmioSplit = on;
}

const KIND_READ: u32 = 1;
const KIND_WRITE: u32 = 2;

/**
 * Exit mode: takes the completion of this access if the root partition has
 * one (returns DONE or FAULT), else records the access, abandons the
 * instruction and returns PENDING.
 */
function exitAccess(kind: u32, pa: u64, size: u32, value: u64): u32 {
  const st = load<u32>(hart, H_MMIO_STATE);
  if (
    (st == MmioState.DONE || st == MmioState.FAULT) &&
    load<u32>(hart, H_MMIO_KIND) == kind && load<u64>(hart, H_MMIO_ADDR) == pa && load<u32>(hart, H_MMIO_SIZE) == size
  ) {
    store<u32>(hart, MmioState.NONE, H_MMIO_STATE);
    requestResync(); // the device may have changed interrupt lines
    return st;
  }
  if (mmioSplit) return MmioState.FAULT;
  count();
  store<u32>(hart, kind, H_MMIO_KIND);
  store<u64>(hart, pa, H_MMIO_ADDR);
  store<u32>(hart, size, H_MMIO_SIZE);
  store<u64>(hart, value, H_MMIO_VALUE);
  atomic.store<u32>(hart + H_MMIO_STATE, MmioState.PENDING);
  raise(CAUSE_RETRY, 0);
  return MmioState.PENDING;
}

/** Does the running vCPU's partition have its devices on another thread (PF_MMIO_EXIT)? */
@inline export function devicesExit(): bool {
  return (load<u32>(partitionOf(), P_FLAGS) & PF_MMIO_EXIT) != 0;
}

/** Reads `size` bytes at physical `pa`; returns false (nothing read) on a bus error. */
export let mmioValue: u64 = 0;

export function mmioLoad(pa: u64, size: u32): bool {
  if (pa - CLINT_BASE < CLINT_SIZE) {
    count();
    mmioValue = clintRead(<u32>(pa - CLINT_BASE), size);
    return true;
  }
  if (pa + size > 0x1_0000_0000) return false;
  if (devicesExit()) {
    const st = exitAccess(KIND_READ, pa, size, 0);
    mmioValue = st == MmioState.DONE ? load<u64>(hart, H_MMIO_VALUE) : 0;
    return st != MmioState.FAULT;
  }
  count();
  const id = load<u32>(partitionOf(), P_ID);
  faulted = false;
  if (size == 8) {
    const lo = hostMmioRead(id, <u32>pa, 4);
    const hi = faulted ? 0 : hostMmioRead(id, <u32>pa + 4, 4);
    mmioValue = (<u64>hi << 32) | <u64>lo;
  } else {
    mmioValue = <u64>hostMmioRead(id, <u32>pa, size);
  }
  requestResync(); // a device access can change interrupt lines
  return !faulted;
}

export function mmioStore(pa: u64, size: u32, value: u64): bool {
  if (pa - CLINT_BASE < CLINT_SIZE) {
    count();
    clintWrite(<u32>(pa - CLINT_BASE), size, value);
    return true;
  }
  if (pa + size > 0x1_0000_0000) return false;
  if (devicesExit()) return exitAccess(KIND_WRITE, pa, size, value) != MmioState.FAULT;
  count();
  const id = load<u32>(partitionOf(), P_ID);
  faulted = false;
  if (size == 8) {
    hostMmioWrite(id, <u32>pa, 4, <u32>value);
    if (!faulted) hostMmioWrite(id, <u32>pa + 4, 4, <u32>(value >> 32));
  } else {
    hostMmioWrite(id, <u32>pa, size, <u32>value);
  }
  requestResync();
  return !faulted;
}
