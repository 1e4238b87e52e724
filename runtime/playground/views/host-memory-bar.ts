// The host-memory bar: the frame pool (the host's memory cap for guests,
// `hv run --host-memory`) as HostController.hostMemory() sees it. Its parts
// are the frames holding guest RAM (every frame of a partition without
// overcommit, the private pages of one with, each shared frame once), the
// rest of what is handed out (G-stage and shadow tables, sharing metadata,
// the JIT's tables), and what is free; beside it, what page sharing saves
// (pages mapped to a shared or the zero frame, less the shared frames).
// data-pool, data-used, data-ram and data-saved carry the bytes (the tests
// read them).
import type { HostMemoryStats } from '../../host/controller.ts';
import { setText } from './dom.ts';

const MIB = 1 << 20;
const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;

export class HostMemoryBar {
  private readonly ram = document.createElement('span');
  private readonly other = document.createElement('span');
  private readonly text = document.createElement('div');

  constructor(private readonly el: HTMLElement) {
    const bar = document.createElement('div');
    bar.className = 'bar host-bar';
    this.ram.className = 'ram';
    this.other.className = 'other';
    this.ram.title = 'frames holding guest RAM';
    this.other.title = 'frames for tables and metadata';
    bar.append(this.ram, this.other);
    el.append(bar, this.text);
  }

  update(m: HostMemoryStats): void {
    const ram = Math.min(m.ramBytes, m.usedBytes);
    const width = (bytes: number) => `${((100 * bytes) / (m.poolBytes || 1)).toFixed(1)}%`;
    if (this.ram.style.width !== width(ram)) this.ram.style.width = width(ram);
    if (this.other.style.width !== width(m.usedBytes - ram)) this.other.style.width = width(m.usedBytes - ram);
    const data = { pool: m.poolBytes, used: m.usedBytes, ram: m.ramBytes, saved: m.sharing.bytesSaved };
    for (const [k, v] of Object.entries(data)) if (this.el.dataset[k] !== String(v)) this.el.dataset[k] = String(v);
    setText(this.text, `pool ${mib(m.poolBytes)}: ${mib(m.usedBytes)} used, of which guest RAM frames ${mib(ram)}, ` +
      `tables and metadata ${mib(m.usedBytes - ram)}; free ${mib(m.poolBytes - m.usedBytes)}; page sharing saves ${mib(m.sharing.bytesSaved)}`);
  }
}
