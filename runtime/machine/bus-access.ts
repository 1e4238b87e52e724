// A guest's access to the board's devices, as the kernel hands it over
// (synchronously, or in a VM exit), performed on the board's bus.
import { BusError } from '../../drivers/board/bus.ts';
import type { VirtBoard } from '../../drivers/board/virt.ts';

/**
 * The value read (writes: 0n), or undefined for a bus error. 8-byte
 * accesses are two 4-byte ones, low first.
 */
export function busAccess(bus: VirtBoard['bus'], write: boolean, addr: number, size: number, value: bigint): bigint | undefined {
  try {
    if (size === 8) {
      const lo = busAccess(bus, write, addr, 4, value & 0xffff_ffffn);
      const hi = lo === undefined ? undefined : busAccess(bus, write, addr + 4, 4, value >> 32n);
      return hi === undefined || lo === undefined ? undefined : (hi << 32n) | lo;
    }
    // No device there: a fault, without the cost of a thrown BusError
    // (~7 us each; a guest faulting on device space does it per byte).
    if (bus.deviceAt(addr) === undefined) {
      bus.unmapped++;
      return undefined;
    }
    if (write) {
      bus.write(addr, size as 1 | 2 | 4, Number(value));
      return 0n;
    }
    return BigInt(bus.read(addr, size as 1 | 2 | 4) >>> 0);
  } catch (e) {
    if (!(e instanceof BusError)) throw e;
    return undefined;
  }
}
