// `hv demo`: a few of our toy guests in child partitions at once, each with
// a different memory-virtualization mode, their consoles, then one table of
// what each partition cost the hypervisor.
import { join } from 'node:path';
import { Hypervisor } from '../host/hypervisor.ts';
import { packageRoot } from '../host/paths.ts';
import { parseElf } from '../loader/elf.ts';
import { Machine, type MachineConfig, type PagingMode } from '../machine/machine.ts';
import { readInput } from './common.ts';
import { PrefixedConsole } from './partitions.ts';

const DEMO: { name: string; elf: string; paging: PagingMode; harts: number }[] = [
  { name: 'hello', elf: 'hello.elf', paging: 'direct', harts: 1 },
  { name: 'smp', elf: 'smp_ipi.elf', paging: 'direct', harts: 4 },
  { name: 'mmu', elf: 'mmu.elf', paging: 'nested', harts: 1 },
  { name: 'tlb', elf: 'tlb.elf', paging: 'shadow', harts: 1 },
];

export async function demoCommand(argv: string[]): Promise<number> {
  if (argv.length) {
    process.stdout.write('usage: hv demo\n\nBoots a few toy guests in child partitions and prints their consoles and statistics.\n');
    return argv[0] === '--help' || argv[0] === '-h' ? 0 : 2;
  }
  const ramSize = 64 << 20;
  const configs = DEMO.map((d) => ({ ramSize, harts: d.harts, paging: d.paging, clock: 'realtime' as const }));
  const hv = new Hypervisor(configs.reduce((a, c) => a + Machine.hostBytes({ ...c, onConsole: () => {} } as MachineConfig), 0));
  const width = Math.max(...DEMO.map((d) => d.name.length));
  const machines = DEMO.map((d, i) => {
    const out = new PrefixedConsole(`[${d.name.padEnd(width)}] `, (t) => process.stdout.write(t));
    const m = new Machine({ ...configs[i]!, onConsole: (b) => out.push(b) }, hv);
    m.boot(m.loadElf(parseElf(readInput(join(packageRoot(), 'guests', 'bin', d.elf), 'guest'))), m.placeDtb());
    return { m, out };
  });
  await hv.run({ timeoutMs: 60_000 });
  for (const { out } of machines) out.flush();

  const rows = machines.map(({ m }, i) => {
    const s = m.stats();
    const r = m.result;
    return [
      DEMO[i]!.name,
      DEMO[i]!.paging,
      String(DEMO[i]!.harts),
      r?.kind === 'exit' ? `exit ${r.code}` : (r?.kind ?? '?'),
      String(s.instructions),
      s.mips.toFixed(1),
      String(s.tlbMisses),
      String(s.walkRefs + s.gstageRefs),
      String(s.shadowFills),
      String(s.traps + s.interrupts),
      String(s.mmioExits),
    ];
  });
  const head = ['partition', 'paging', 'vCPUs', 'result', 'instructions', 'MIPS', 'TLB misses', 'PTE reads', 'shadow fills', 'traps+irqs', 'MMIO exits'];
  const w = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((x, c) => (c < 4 ? x.padEnd(w[c]!) : x.padStart(w[c]!))).join('  ');
  process.stdout.write(`\n${line(head)}\n${line(w.map((n) => '-'.repeat(n)))}\n${rows.map(line).join('\n')}\n`);
  return machines.every(({ m }) => m.result?.kind === 'exit' && m.result.code === 0) ? 0 : 1;
}
