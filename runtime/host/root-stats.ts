// What the root partition reports of its partitions and pCPUs
// (HostController list, stats, pcpuStats): the Machine's counters with the
// scheduler's, read from the kernel's shared blocks.
import type { MachineStats } from '../machine/machine.ts';
import type { PartitionInfo, PartitionStats, PcpuStats, VcpuStats } from './controller.ts';
import { PcpuStat, VcpuStat, type SchedExports } from './sched.ts';
import { channelStatus, icStatus } from '../../drivers/vmbus/status.ts';
import type { Partition } from './root-partition.ts';

const STATE_NAMES = ['none', 'queued', 'running', 'blocked'] as const;

export function partitionInfo(id: number, { spec, state, machine }: Partition): PartitionInfo {
  const info: PartitionInfo = {
    id, name: spec.name, state, vcpus: spec.vcpus, memory: spec.memory, paging: spec.paging, boot: spec.boot, sched: spec.sched,
    instructions: machine.instructions(),
  };
  if (state === 'finished') info.result = machine.result;
  return info;
}

export function partitionStats(id: number, p: Partition, s: SchedExports): PartitionStats {
  const m = p.machine;
  const totals: MachineStats = m.stats();
  if (p.state !== 'finished' && p.startedAt !== undefined) {
    totals.seconds = (performance.now() - p.startedAt) / 1000;
    totals.mips = totals.seconds > 0 ? totals.instructions / totals.seconds / 1e6 : 0;
  }
  const vcpuStats = m.harts.map((h, index): VcpuStats => {
    const v = m.firstVcpu + index;
    const st = (which: number) => Number(s.schedVcpuStat(v, which));
    return {
      index, vcpu: v, pcpu: s.schedVcpuPcpu(v), state: STATE_NAMES[s.schedVcpuState(v)] ?? 'none',
      instructions: h.instret, picks: st(VcpuStat.PICKS), waitInsns: st(VcpuStat.WAIT), wakes: st(VcpuStat.WAKES),
      migrations: st(VcpuStat.MIGRATIONS), credit: Number(s.schedVcpuCredit(v)),
      ...h.counters(),
      exits: { ...p.exits[index]! },
    };
  });
  const vmbus = m.vmbus && { channels: channelStatus(m.vmbus, m.memory, m.vmbus.deviceList), ics: icStatus(m.vmbus.deviceList) };
  return { ...partitionInfo(id, p), totals, vcpuStats, ...(vmbus ? { vmbus } : {}) };
}

export function pcpuStats(s: SchedExports, pcpus: number): PcpuStats[] {
  return Array.from({ length: pcpus }, (_, pcpu) => {
    const st = (which: number) => Number(s.schedPcpuStat(pcpu, which));
    return { pcpu, busy: st(PcpuStat.BUSY), idle: st(PcpuStat.IDLE), runs: st(PcpuStat.RUNS), switches: st(PcpuStat.SWITCHES), steals: st(PcpuStat.STEALS) };
  });
}
