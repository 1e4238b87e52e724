// `hv run A.elf B.elf ...`: every guest in a child partition of its own, all
// on one hypervisor at once, their consoles kept apart by a line prefix.
// The exit status is the first failing guest's (in command-line order), or 0.
import { basename } from 'node:path';
import { Hypervisor } from '../host/hypervisor.ts';
import { parseElf } from '../loader/elf.ts';
import { Machine } from '../machine/machine.ts';
import { attachConsole } from './console.ts';
import { type CommonOptions, exitStatus, printStats, readInput } from './common.ts';

/** Writes a partition's console a line at a time, each line prefixed with its name. */
export class PrefixedConsole {
  private partial = '';
  constructor(
    private readonly prefix: string,
    private readonly write: (text: string) => void,
  ) {}
  push(bytes: Uint8Array): void {
    const text = this.partial + Buffer.from(bytes).toString('latin1');
    const lines = text.split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) this.write(`${this.prefix}${line}\n`);
  }
  flush(): void {
    if (this.partial) this.write(`${this.prefix}${this.partial}\n`);
    this.partial = '';
  }
}

/** Names for the partitions: the file names, made unique. */
export function partitionNames(files: readonly string[]): string[] {
  const base = files.map((f) => basename(f).replace(/\.elf$/, ''));
  return base.map((b, i) => (base.filter((x) => x === b).length > 1 ? `${b}#${base.slice(0, i).filter((x) => x === b).length}` : b));
}

export async function runPartitions(files: readonly string[], o: CommonOptions): Promise<number> {
  const images = files.map((f) => parseElf(readInput(f, 'kernel')));
  const names = partitionNames(files);
  const width = Math.max(...names.map((n) => n.length));
  const config = { ramSize: o.ramSize, harts: o.harts, paging: o.paging, clock: o.clock };
  const hv = new Hypervisor(files.length * Machine.hostBytes({ ...config, onConsole: () => {} }));
  const consoles = names.map((n) => new PrefixedConsole(`[${n.padEnd(width)}] `, (t) => process.stdout.write(t)));
  const machines = images.map((image, i) => {
    const m = new Machine({ ...config, onConsole: (b) => consoles[i]!.push(b) }, hv);
    m.boot(m.loadElf(image), m.placeDtb());
    return m;
  });
  // Keyboard input goes to the first partition's console.
  const detach = attachConsole(machines[0]!);
  try {
    for (const m of machines) m.limit(o.maxInsns);
    await hv.run({ timeoutMs: o.timeoutMs });
  } finally {
    detach();
    for (const c of consoles) c.flush();
  }
  let status = 0;
  machines.forEach((m, i) => {
    if (o.stats) printStats(m.stats(), `hv [${names[i]}]: `);
    const s = exitStatus(m.result ?? { kind: 'timeout' }, o, `partition ${names[i]}`);
    if (s !== 0 && status === 0) status = s;
  });
  return status;
}
