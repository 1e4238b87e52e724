// The kernel scheduler's exports (kernel/sched/api.ts) as the host sees
// them, and the numbers that go with them. See docs/scheduler.md.
import type { KernelExports } from './kernel.ts';

/** What pcpuRun / schedRunDeterministic return. */
export const SchedExit = { RAN: 0, IDLE: 1, HOST: 2, HALT: 3 } as const;

/** Scheduler state of a vCPU (schedVcpuState). */
export const SState = { NONE: 0, QUEUED: 1, RUNNING: 2, BLOCKED: 3 } as const;

/** schedVcpuStat indices; times are in instructions. */
export const VcpuStat = {
  RUN: 0, PICKS: 1, WAIT: 2, WAKES: 3, WAKE_LAT_MAX: 4, WAKE_LAT_SUM: 5, MIGRATIONS: 6, BOOSTED: 7,
} as const;

/** schedPcpuStat indices; times are in instructions. */
export const PcpuStat = {
  BUSY: 0, IDLE: 1, RUNS: 2, SWITCHES: 3, STEALS: 4, ACCOUNTINGS: 5, POLLS: 6, WAKES: 7,
} as const;

/** Priority classes in trace entries: 0 none, 1 OVER, 2 UNDER, 3 BOOST. */
export const SchedClass = ['NONE', 'OVER', 'UNDER', 'BOOST'] as const;

export interface SchedExports {
  schedInit(npcpus: number, insnsPerMs: number): number;
  schedSetBoost(on: number): void;
  schedAddVcpu(vcpu: number, pcpuHint: number): number;
  schedRemoveVcpu(vcpu: number): number;
  schedSetParams(partition: number, weight: number, cap: number, reservation: number): number;
  schedWake(vcpu: number): number;
  schedWakeIrq(vcpu: number): number;
  partitionSetHalted(partition: number, on: number): number;
  schedBlock(vcpu: number): number;
  pcpuRun(pcpu: number, maxRuns: number): number;
  pcpuAdvance(pcpu: number, insns: bigint): void;
  pcpuExitVcpu(pcpu: number): number;
  pcpuClock(pcpu: number): bigint;
  schedRunDeterministic(until: bigint, maxRuns: number): number;
  schedExitPcpu(): number;
  schedNow(): bigint;
  schedVcpuStat(vcpu: number, which: number): bigint;
  schedVcpuCredit(vcpu: number): bigint;
  schedVcpuState(vcpu: number): number;
  schedVcpuPcpu(vcpu: number): number;
  schedPcpuStat(pcpu: number, which: number): bigint;
  schedPartitionRun(partition: number): bigint;
  schedPartitionAlloc(partition: number): number;
  schedAccountings(): bigint;
}

export function schedExports(exports: KernelExports): SchedExports {
  return exports as unknown as SchedExports;
}

/** One run of a vCPU on a pCPU, from the pCPU's trace ring. */
export interface TraceEntry {
  start: bigint;
  length: number;
  vcpu: number;
  cls: number;
  exit: number;
}

/** Where the pCPU blocks are, read from the kernel's exported globals. */
export interface SchedLayout {
  pcpus: number;
  pcpuSize: number;
  trace: number;
  traceN: number;
  traceEntries: number;
  traceEntrySize: number;
  /** Offset of the kick word in a pCPU block (pCPU threads sleep on it). */
  kick: number;
}

export function schedLayout(instance: WebAssembly.Instance | Record<string, unknown>): SchedLayout {
  const ex = ('exports' in instance ? instance.exports : instance) as Record<string, unknown>;
  const g = (name: string) => (ex[name] as WebAssembly.Global).value as number;
  return {
    pcpus: g('LAYOUT_SCHED_PCPUS'),
    pcpuSize: g('LAYOUT_PCPU_SIZE'),
    trace: g('LAYOUT_PCPU_TRACE'),
    traceN: g('LAYOUT_PCPU_TRACE_N'),
    traceEntries: g('LAYOUT_PCPU_TRACE_ENTRIES'),
    traceEntrySize: g('LAYOUT_PCPU_TRACE_ENTRY_SIZE'),
    kick: g('LAYOUT_PCPU_KICK'),
  };
}

/** The trace entries of pCPU `pcpu` written after the `since`-th (at most a ring's worth), oldest first. */
export function readTrace(memory: WebAssembly.Memory, layout: SchedLayout, pcpu: number, since = 0): { entries: TraceEntry[]; next: number } {
  const dv = new DataView(memory.buffer);
  const base = layout.pcpus + pcpu * layout.pcpuSize;
  const n = dv.getUint32(base + layout.traceN, true);
  const from = Math.max(since, n - layout.traceEntries);
  const entries: TraceEntry[] = [];
  for (let i = from; i < n; i++) {
    const e = base + layout.trace + (i % layout.traceEntries) * layout.traceEntrySize;
    entries.push({
      start: dv.getBigUint64(e, true),
      length: dv.getUint32(e + 8, true),
      vcpu: dv.getUint16(e + 12, true),
      cls: dv.getUint8(e + 14),
      exit: dv.getUint8(e + 15),
    });
  }
  return { entries, next: n };
}
