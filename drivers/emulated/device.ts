// The shape every emulated (unenlightened) device model shares. The kernel
// forwards a guest load/store outside RAM to the root partition; the MMIO bus
// (drivers/board/bus.ts) finds the device and calls read/write with the offset
// inside the device's window. Each such call is one VM exit.
//
// Devices are guest-facing: no offset, size or value a guest can produce may
// throw a host exception. Unknown offsets read 0 and ignore writes, as on the
// real parts (and as QEMU does, after logging a guest error).

/** Access width in bytes. 8-byte guest accesses reach devices as two 4-byte ones (low word first). */
export type AccessSize = 1 | 2 | 4;

export interface MmioDevice {
  /** Short name for statistics and logs ("uart0", "plic"). */
  readonly name: string;
  /** Size in bytes of the register window. */
  readonly size: number;
  /** Returns the zero-extended value of the `size`-byte register access at `offset`. */
  read(offset: number, size: AccessSize): number;
  /** Stores the low `size` bytes of `value` at `offset`. */
  write(offset: number, size: AccessSize, value: number): void;
  /** Returns to the power-on state (board reset). */
  reset(): void;
  /**
   * Version of the state save() returns and restore() reads. A save file
   * carries it in the device's record (runtime/persist/), and a record of
   * another version is refused by name: bump it whenever the state's fields
   * or their meaning change.
   */
  readonly stateVersion: number;
  /** A structured-cloneable snapshot of the guest-visible state (for save/restore and migration). */
  save(): object;
  /** Loads a snapshot made by save(); throws DeviceStateError if it is malformed. */
  restore(state: object): void;
}

/**
 * An interrupt line from a device to the interrupt controller: true =
 * asserted. Devices call it each time they re-evaluate their interrupt
 * condition after an event (a register access, data received, a buffer
 * used), with the level they compute, not only when it changes: as QEMU's
 * qemu_set_irq, each call with true is a new request to the PLIC, so an event
 * while the guest handles the previous one is not lost (drivers/emulated/plic.ts).
 */
export type IrqLine = (level: boolean) => void;

/** Raised by restore() for a snapshot that does not belong to the device or is corrupt. */
export class DeviceStateError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeviceStateError';
  }
}

/** Mask of the low `size` bytes. */
export function sizeMask(size: number): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffff_ffff;
}

/** True when `size` is a width the bus can produce (1, 2 or 4). */
export function isAccessSize(size: number): size is AccessSize {
  return size === 1 || size === 2 || size === 4;
}

// Helpers for restore(): snapshots may come from another host (migration), so
// they are checked field by field rather than trusted.

function field(state: object, key: string, device: string): unknown {
  const v = (state as Record<string, unknown>)[key];
  if (v === undefined) throw new DeviceStateError(`${device}: snapshot lacks '${key}'`);
  return v;
}

/** An integer field in [0, max]. */
export function uintField(state: object, key: string, device: string, max = 0xffff_ffff): number {
  const v = field(state, key, device);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new DeviceStateError(`${device}: snapshot field '${key}' is not an integer in [0, ${max}]`);
  }
  return v;
}

export function boolField(state: object, key: string, device: string): boolean {
  const v = field(state, key, device);
  if (typeof v !== 'boolean') throw new DeviceStateError(`${device}: snapshot field '${key}' is not a boolean`);
  return v;
}

/** A bigint field, also accepted as a decimal string (snapshots that went through JSON). */
export function bigintField(state: object, key: string, device: string): bigint {
  const v = field(state, key, device);
  if (typeof v === 'bigint') return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  throw new DeviceStateError(`${device}: snapshot field '${key}' is not a bigint`);
}

/** An array of integers in [0, max], optionally of an exact length. */
export function uintArrayField(state: object, key: string, device: string, max: number, length?: number): number[] {
  const v = field(state, key, device);
  if (
    !Array.isArray(v) ||
    (length !== undefined && v.length !== length) ||
    !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= max)
  ) {
    const len = length === undefined ? '' : ` of length ${length}`;
    throw new DeviceStateError(`${device}: snapshot field '${key}' is not an array${len} of integers in [0, ${max}]`);
  }
  return v as number[];
}
