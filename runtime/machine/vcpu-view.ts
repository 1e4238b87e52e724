// A typed window on one vCPU's block in host memory, using the offsets the
// kernel exports (never hand-copied numbers), for boot set-up and statistics.
import type { KernelLayout } from '../host/kernel.ts';

export class VcpuView {
  private readonly dv: DataView;
  private readonly i32: Int32Array;
  constructor(
    memory: WebAssembly.Memory,
    readonly base: number,
    private readonly layout: KernelLayout,
  ) {
    this.dv = new DataView(memory.buffer as ArrayBuffer, base, layout.vcpuSize);
    this.i32 = new Int32Array(memory.buffer as ArrayBuffer, base, layout.vcpuSize / 4);
  }
  private off(name: string): number {
    const o = this.layout.off[name];
    if (o === undefined) throw new Error(`kernel exports no offset ${name}`);
    return o;
  }
  u64(name: string): bigint {
    return this.dv.getBigUint64(this.off(name), true);
  }
  u32(name: string): number {
    return this.dv.getUint32(this.off(name), true);
  }
  getX(r: number): bigint {
    return this.dv.getBigUint64(this.off('X') + r * 8, true);
  }
  setX(r: number, v: bigint): void {
    if (r !== 0) this.dv.setBigUint64(this.off('X') + r * 8, BigInt.asUintN(64, v), true);
  }
  get pc(): bigint {
    return this.u64('PC');
  }
  get instret(): number {
    return Number(this.u64('INSTRET'));
  }
  get inWfi(): boolean {
    return this.u32('WFI') !== 0;
  }
  get mtimecmp(): bigint {
    return this.u64('MTIMECMP');
  }
  /** Drives an external interrupt line into mip (MEIP bit 11, SEIP bit 9), atomically. */
  setExternalIrq(bit: number, level: boolean): void {
    const idx = this.off('EXT_IRQ') / 4;
    if (level) Atomics.or(this.i32, idx, 1 << bit);
    else Atomics.and(this.i32, idx, ~(1 << bit));
  }
  stat(name: string): number {
    return Number(this.u64('STAT_' + name));
  }
}
