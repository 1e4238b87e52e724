// A small host for the scheduler tests: several partitions in one host
// memory, each with its own RAM range in the frame pool, their vCPUs under
// the kernel scheduler, run in deterministic mode with the guests' mtime
// taken from the scheduler's clock (1 mtime tick = 10_000 / insnsPerMs
// instructions... with the default 10_000 instructions per ms, one tick per
// instruction).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseElf, type ElfImage } from '../../runtime/loader/elf.ts';
import { createHostMemory, instantiateKernel, type KernelExports } from '../../runtime/host/kernel.ts';
import { SchedExit, schedLayout, readTrace, type SchedExports, type TraceEntry } from '../../runtime/host/sched.ts';

const RAM_GPA = 0x8000_0000;
const TICKS_PER_MS = 10_000; // 10 MHz mtime

export type GuestName = 'spin' | 'sleeper' | 'gamer' | 'yielder';
/** Guests that start in S-mode with the hypervisor as their SBI firmware. */
const ENLIGHTENED = new Set<GuestName>(['yielder']);

export interface PartitionSpec {
  guest: GuestName;
  vcpus?: number;
  weight?: number;
  cap?: number;
  reservation?: number;
  /** pCPU for each vCPU (index -> pCPU), default: the least loaded. */
  pcpu?: (hart: number) => number;
  /** Words to patch in the guest's data before it starts (symbol -> value). */
  patch?: Record<string, bigint>;
}

export interface RigConfig {
  pcpus: number;
  insnsPerMs?: number;
  partitions: PartitionSpec[];
  boost?: boolean;
  /** Called whenever a guest reads the time (mid-run, as another thread's event would arrive), with schedNow(). */
  onClock?: (now: bigint) => void;
}

const images = new Map<GuestName, ElfImage>();
function guestImage(name: GuestName): ElfImage {
  let img = images.get(name);
  if (!img) {
    img = parseElf(readFileSync(join(import.meta.dirname, '..', '..', 'guests', 'bin', 'sched', `${name}.elf`)));
    images.set(name, img);
  }
  return img;
}

interface Part {
  spec: PartitionSpec;
  id: number;
  firstVcpu: number;
  nvcpus: number;
  ramHost: number;
  image: ElfImage;
}

export class SchedRig {
  readonly memory: WebAssembly.Memory;
  readonly k: KernelExports & SchedExports;
  readonly insnsPerMs: number;
  readonly parts: Part[] = [];
  readonly layout;
  /** Host address of each vCPU's block. */
  readonly vcpuBlocks: number[] = [];
  private readonly stateOff: number;
  private time = 0n;
  private readonly ramSize = 64 << 10;

  constructor(readonly config: RigConfig) {
    this.insnsPerMs = config.insnsPerMs ?? 10_000;
    const framePool = 0x0120_0000;
    this.memory = createHostMemory(framePool + config.partitions.length * this.ramSize);
    let k!: KernelExports & SchedExports;
    const ticksPerInsn = TICKS_PER_MS / this.insnsPerMs;
    const instance = instantiateKernel(this.memory, {
      mmioRead: () => {
        k.mmioFault();
        return 0;
      },
      mmioWrite: () => k.mmioFault(),
      hostClock: () => {
        config.onClock?.(k.schedNow());
        return Math.floor(Number(k.schedNow()) * ticksPerInsn);
      },
    });
    k = this.k = Object.assign(Object.create(null) as object, instance.exports) as KernelExports & SchedExports;
    if (instance.layout.framePool !== framePool) throw new Error('frame pool moved');
    this.stateOff = instance.layout.off['STATE']!;
    this.layout = schedLayout(instance.exports as unknown as Record<string, unknown>);
    k.hostInit();
    if (!k.schedInit(config.pcpus, this.insnsPerMs)) throw new Error('schedInit refused');
    if (config.boost === false) k.schedSetBoost(0);
    let vcpu = 0;
    config.partitions.forEach((spec, id) => {
      const nvcpus = spec.vcpus ?? 1;
      const ramHost = framePool + id * this.ramSize;
      const image = guestImage(spec.guest);
      const part: Part = { spec, id, firstVcpu: vcpu, nvcpus, ramHost, image };
      this.parts.push(part);
      k.partitionInit(id, BigInt(RAM_GPA), BigInt(this.ramSize), ramHost, vcpu, nvcpus);
      const ram = new Uint8Array(this.memory.buffer, ramHost, this.ramSize);
      ram.fill(0);
      for (const s of image.segments) ram.set(s.data, Number(s.addr) - RAM_GPA);
      for (const [sym, value] of Object.entries(spec.patch ?? {})) this.poke(id, sym, 0, value);
      if (!k.schedSetParams(id, spec.weight ?? 0, spec.cap ?? 0, spec.reservation ?? 0)) throw new Error('bad params');
      for (let h = 0; h < nvcpus; h++) this.vcpuBlocks.push(k.vcpuReset(vcpu + h, id, h, image.entry));
      if (ENLIGHTENED.has(spec.guest)) {
        k.partitionSetEnlightened(id, 1);
        for (let h = 0; h < nvcpus; h++) k.vcpuEnterSupervisor(vcpu + h, image.entry, BigInt(h), 0n);
      }
      vcpu += nvcpus;
    });
    for (const part of this.parts) {
      for (let h = 0; h < part.nvcpus; h++) {
        if (!k.schedAddVcpu(part.firstVcpu + h, part.spec.pcpu ? part.spec.pcpu(h) : -1)) throw new Error('add failed');
      }
    }
  }

  /** Address in host memory of symbol `sym` (+ index * 8) of partition `id`'s guest. */
  private symAddr(id: number, sym: string, index: number): number {
    const part = this.parts[id]!;
    const at = part.image.symbols.get(sym);
    if (at === undefined) throw new Error(`no symbol ${sym}`);
    return part.ramHost + Number(at) - RAM_GPA + index * 8;
  }

  /** Guest-physical address of symbol `sym` of partition `id`'s guest. */
  symbolGpa(id: number, sym: string): bigint {
    const at = this.parts[id]!.image.symbols.get(sym);
    if (at === undefined) throw new Error(`no symbol ${sym}`);
    return at;
  }

  /** Writes vCPU `vcpu`'s run state (H_STATE), as SBI HSM does. */
  setVcpuState(vcpu: number, state: number): void {
    const at = this.vcpuBlocks[vcpu]! + this.stateOff;
    Atomics.store(new Uint32Array(this.memory.buffer), at >> 2, state);
  }

  poke(id: number, sym: string, index: number, value: bigint): void {
    new DataView(this.memory.buffer).setBigUint64(this.symAddr(id, sym, index), value, true);
  }

  peek(id: number, sym: string, index = 0): bigint {
    return new DataView(this.memory.buffer).getBigUint64(this.symAddr(id, sym, index), true);
  }

  /** Runs every pCPU for `ms` more milliseconds of scheduler time (deterministic mode). */
  run(ms: number): void {
    this.time += BigInt(Math.round(ms * this.insnsPerMs));
    for (;;) {
      const r = this.k.schedRunDeterministic(this.time, 0xffff_ffff);
      if (r === SchedExit.RAN) return;
      throw new Error(`unexpected scheduler exit ${r} on pCPU ${this.k.schedExitPcpu()}`);
    }
  }

  get now(): bigint {
    return this.time;
  }

  /** Instructions run by partition `id`. */
  partRun(id: number): number {
    return Number(this.k.schedPartitionRun(id));
  }

  vcpuStat(vcpu: number, which: number): number {
    return Number(this.k.schedVcpuStat(vcpu, which));
  }

  pcpuStat(pcpu: number, which: number): number {
    return Number(this.k.schedPcpuStat(pcpu, which));
  }

  vcpusOf(id: number): number[] {
    const p = this.parts[id]!;
    return Array.from({ length: p.nvcpus }, (_, h) => p.firstVcpu + h);
  }

  trace(pcpu: number, since = 0): { entries: TraceEntry[]; next: number } {
    return readTrace(this.memory, this.layout, pcpu, since);
  }

  /** Instructions of one "ms". */
  ms(n: number): number {
    return n * this.insnsPerMs;
  }
}

/** Shares of the partitions' run instructions, summing to 1. */
export function shares(rig: SchedRig, ids: number[]): number[] {
  const runs = ids.map((id) => rig.partRun(id));
  const total = runs.reduce((a, b) => a + b, 0);
  return runs.map((r) => r / total);
}
