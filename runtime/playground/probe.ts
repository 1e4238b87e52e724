// Reads the hypervisor's state straight from host memory, from any thread
// that holds it (the page's): the scheduler's per-pCPU trace rings, vCPU
// counters and where each partition's RAM is. Nothing here sends a message
// or takes a lock, so the pictures never pause a guest; what it reads may be
// a moment old or mid-update, which a picture at 10 Hz does not mind.
import { instantiateKernel, type KernelInstance } from '../host/kernel.ts';
import { readTrace, schedExports, schedLayout, type SchedExports, type SchedLayout, type TraceEntry } from '../host/sched.ts';
import { sumCounters, VcpuView, type VcpuCounters } from '../machine/vcpu-view.ts';

export interface PartitionRam {
  /** Host address and bytes of its RAM (one run of frames). */
  host: number;
  size: number;
  firstVcpu: number;
  vcpus: number;
}

export class HostProbe {
  private readonly kernel: KernelInstance;
  private readonly sched: SchedExports;
  private readonly layout: SchedLayout;
  private readonly g: (name: string) => number;
  private readonly traceNext: number[];
  private readonly views = new Map<number, VcpuView>();

  /** `module` is the host's kernel: instantiating it here only reads its layout globals and calls readers. */
  constructor(
    private readonly memory: WebAssembly.Memory,
    module: WebAssembly.Module,
    readonly pcpus: number,
  ) {
    const none = () => 0;
    this.kernel = instantiateKernel(memory, { mmioRead: none, mmioWrite: none, hostClock: none }, module);
    const ex = this.kernel.exports as unknown as Record<string, unknown>;
    this.g = (name) => (ex[name] as WebAssembly.Global).value as number;
    this.sched = schedExports(this.kernel.exports);
    this.layout = schedLayout(ex);
    this.traceNext = Array.from({ length: pcpus }, (_, p) => readTrace(memory, this.layout, p).next);
  }

  /** pCPU `pcpu`'s clock: instructions run plus idle time, the trace's time axis. */
  clock(pcpu: number): number {
    return Number(this.sched.pcpuClock(pcpu));
  }

  /** Runs on `pcpu` traced since the last call (a ring's worth at most: older ones are gone). */
  newRuns(pcpu: number): TraceEntry[] {
    const { entries, next } = readTrace(this.memory, this.layout, pcpu, this.traceNext[pcpu]);
    this.traceNext[pcpu] = next;
    return entries;
  }

  partitionRam(id: number): PartitionRam {
    const at = this.g('LAYOUT_PARTITIONS') + id * this.g('LAYOUT_PART_SIZE');
    const dv = new DataView(this.memory.buffer);
    return {
      host: dv.getUint32(at + this.g('LAYOUT_P_RAM_HOST'), true),
      size: Number(dv.getBigUint64(at + this.g('LAYOUT_P_RAM_SIZE'), true)),
      firstVcpu: dv.getUint32(at + this.g('LAYOUT_P_FIRST_VCPU'), true),
      vcpus: dv.getUint32(at + this.g('LAYOUT_P_NVCPUS'), true),
    };
  }

  /** The frame pool: [start, end) in host memory. */
  get pool(): { start: number; end: number } {
    return { start: this.kernel.layout.framePool, end: this.memory.buffer.byteLength };
  }

  /** Frames handed out (partition RAM, G-stage and shadow tables, bitmaps). */
  framesUsed(): number {
    return this.kernel.exports.framesUsed();
  }

  vcpu(index: number): VcpuView {
    let v = this.views.get(index);
    if (!v) {
      v = new VcpuView(this.memory, this.g('LAYOUT_VCPUS') + index * this.kernel.layout.vcpuSize, this.kernel.layout);
      this.views.set(index, v);
    }
    return v;
  }

  /** Instructions retired and event counters, summed over partition `id`'s vCPUs. */
  partitionCounters(id: number): { instructions: number; counters: VcpuCounters } {
    const ram = this.partitionRam(id);
    const views = Array.from({ length: ram.vcpus }, (_, i) => this.vcpu(ram.firstVcpu + i));
    return { instructions: views.reduce((n, v) => n + v.instret, 0), counters: sumCounters(views.map((v) => v.counters())) };
  }
}
