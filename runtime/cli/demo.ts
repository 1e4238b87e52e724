// `hv demo`: a few of our toy guests in child partitions at once on the
// threaded host, each with a different memory-virtualization mode, their
// consoles, then a table of what each partition cost the hypervisor and
// one of what each physical CPU did.
import { join } from 'node:path';
import { packageRoot } from '../host/paths.ts';
import { partitionSpec, type PagingMode, type PartitionSpec } from '../host/spec.ts';
import { consoles, runThreaded, sumExits } from './partitions.ts';

const DEMO: { name: string; elf: string; paging: PagingMode; vcpus: number }[] = [
  { name: 'hello', elf: 'hello.elf', paging: 'direct', vcpus: 1 },
  { name: 'smp', elf: 'smp_ipi.elf', paging: 'direct', vcpus: 4 },
  { name: 'mmu', elf: 'mmu.elf', paging: 'nested', vcpus: 1 },
  { name: 'tlb', elf: 'tlb.elf', paging: 'shadow', vcpus: 1 },
];

function table(head: string[], rows: string[][], leftCols: number): string {
  const w = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((x, c) => (c < leftCols ? x.padEnd(w[c]!) : x.padStart(w[c]!))).join('  ');
  return `${line(head)}\n${line(w.map((n) => '-'.repeat(n)))}\n${rows.map(line).join('\n')}\n`;
}

export async function demoCommand(argv: string[]): Promise<number> {
  if (argv.length) {
    process.stdout.write('usage: hv demo\n\nBoots a few toy guests in child partitions on pCPU threads and prints their consoles and statistics.\n');
    return argv[0] === '--help' || argv[0] === '-h' ? 0 : 2;
  }
  const specs: PartitionSpec[] = DEMO.map((d) =>
    partitionSpec(d.name, join(packageRoot(), 'guests', 'bin', d.elf), { memory: 64 << 20, vcpus: d.vcpus, paging: d.paging }),
  );
  const out = consoles(specs);
  let run;
  try {
    run = await runThreaded(specs, { timeoutMs: 60_000 }, undefined, out);
  } finally {
    out.flush();
  }
  const rows = run.partitions.map(({ result: r, stats: s }, i) => {
    const t = s.totals;
    const e = sumExits(s);
    const exits = e.mmio + e.sbi + e.htif + e.other;
    return [
      DEMO[i]!.name, DEMO[i]!.paging, String(DEMO[i]!.vcpus),
      r.kind === 'exit' ? `exit ${r.code}` : r.kind,
      String(t.instructions), t.mips.toFixed(1), String(t.tlbMisses), String(t.walkRefs + t.gstageRefs),
      String(t.shadowFills), String(t.traps + t.interrupts), String(exits),
    ];
  });
  process.stdout.write(
    '\n' +
      table(['partition', 'paging', 'vCPUs', 'result', 'instructions', 'MIPS', 'TLB misses', 'PTE reads', 'shadow fills', 'traps+irqs', 'VM exits'], rows, 4) +
      '\n' +
      table(
        ['pCPU', 'busy (insns)', 'idle (insns)', 'vCPU runs', 'switches', 'steals'],
        run.pcpus.map((p) => [String(p.pcpu), String(p.busy), String(p.idle), String(p.runs), String(p.switches), String(p.steals)]),
        1,
      ),
  );
  return run.partitions.every(({ result: r }) => r.kind === 'exit' && r.code === 0) ? 0 : 1;
}
