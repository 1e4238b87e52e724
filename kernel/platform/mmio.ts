// Physical accesses that are not RAM: the in-kernel CLINT, else the host's
// device models (imported functions; the root partition's bus dispatches).
//
// Host devices see accesses of 1, 2 or 4 bytes; an 8-byte access becomes two
// 4-byte ones, low half first (v86-style per-width import surface). An
// access the host cannot serve calls back mmioFault(), which the kernel turns
// into an access-fault exception.
import { hart, H_PARTITION, H_STAT_MMIO } from '../cpu/hart';
import { P_ID } from '../mm/partition';
import { CLINT_BASE, CLINT_SIZE, clintRead, clintWrite } from './aclint';
import { requestResync } from '../cpu/exception';

// The partition id says whose board the access is for: a pCPU runs vCPUs of
// many partitions.
@external('env', 'mmioRead')
declare function hostMmioRead(partition: u32, addr: u32, size: u32): u32;
@external('env', 'mmioWrite')
declare function hostMmioWrite(partition: u32, addr: u32, size: u32, value: u32): void;

@inline function partitionId(): u32 {
  return load<u32>(<usize>load<u32>(hart, H_PARTITION), P_ID);
}

let faulted: bool = false;

/** Called by the host from inside mmioRead/mmioWrite: no device there. */
export function mmioFault(): void {
  faulted = true;
}

@inline function count(): void {
  store<u64>(hart, load<u64>(hart, H_STAT_MMIO) + 1, H_STAT_MMIO);
}

/** Reads `size` bytes at physical `pa`; returns false (nothing read) on a bus error. */
export let mmioValue: u64 = 0;

export function mmioLoad(pa: u64, size: u32): bool {
  count();
  if (pa - CLINT_BASE < CLINT_SIZE) {
    mmioValue = clintRead(<u32>(pa - CLINT_BASE), size);
    return true;
  }
  if (pa + size > 0x1_0000_0000) return false;
  faulted = false;
  if (size == 8) {
    const lo = hostMmioRead(partitionId(), <u32>pa, 4);
    const hi = faulted ? 0 : hostMmioRead(partitionId(), <u32>pa + 4, 4);
    mmioValue = (<u64>hi << 32) | <u64>lo;
  } else {
    mmioValue = <u64>hostMmioRead(partitionId(), <u32>pa, size);
  }
  requestResync(); // a device access can change interrupt lines
  return !faulted;
}

export function mmioStore(pa: u64, size: u32, value: u64): bool {
  count();
  if (pa - CLINT_BASE < CLINT_SIZE) {
    clintWrite(<u32>(pa - CLINT_BASE), size, value);
    return true;
  }
  if (pa + size > 0x1_0000_0000) return false;
  faulted = false;
  if (size == 8) {
    hostMmioWrite(partitionId(), <u32>pa, 4, <u32>value);
    if (!faulted) hostMmioWrite(partitionId(), <u32>pa + 4, 4, <u32>(value >> 32));
  } else {
    hostMmioWrite(partitionId(), <u32>pa, size, <u32>value);
  }
  requestResync();
  return !faulted;
}
