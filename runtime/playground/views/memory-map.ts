// The memory map: host frames of the frame pool as a grid of cells, each
// cell a run of frames, coloured by the partition whose RAM holds it; grey
// is free. Frames handed out for anything else (G-stage and shadow tables,
// page-table bitmaps) are counted beside it: the allocator does not record
// their owner. Partitions with overcommit (docs/memory.md) also get a bar of
// their pages by where they live: private, shared (copy-on-write), the zero
// frame, ballooned (no frame), unpopulated (demand-allocated, no frame yet),
// from stats() as the root reads them. They have no RAM run to draw: their
// frames come one by one from anywhere in the pool.
import type { PartitionMemoryMap } from '../../machine/overcommit.ts';
import type { HostProbe } from '../probe.ts';
import { partitionColor } from './colors.ts';
import { replaceIfChanged } from './dom.ts';

const CELL = 6;
const PAGE_STATES = [
  ['private', '#8a93a5'],
  ['shared', '#a3be8c'],
  ['zero', '#88c0d0'],
  ['ballooned', '#3a3f4b'],
  ['unpopulated', '#2e3440'],
] as const;
const FRAME = 4096;

export class MemoryMap {
  private readonly canvas = document.createElement('canvas');
  private readonly legend = document.createElement('div');

  constructor(
    parent: HTMLElement,
    private readonly probe: HostProbe,
  ) {
    this.legend.className = 'legend';
    parent.append(this.canvas, this.legend);
  }

  update(partitions: readonly { id: number; name: string; pages?: PartitionMemoryMap }[]): void {
    const { start, end } = this.probe.pool;
    const w = this.canvas.clientWidth || 400;
    const cols = Math.floor(w / CELL);
    const cells = cols * 24;
    const perCell = Math.ceil((end - start) / FRAME / cells);
    const h = Math.ceil((end - start) / FRAME / perCell / cols) * CELL;
    // Setting a canvas's size reallocates and clears it: only when the layout changed.
    if (this.canvas.width !== w) this.canvas.width = w;
    if (this.canvas.height !== h) this.canvas.height = h;
    const ctx = this.canvas.getContext('2d')!;
    ctx.fillStyle = '#3a3f4b';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    let ram = 0;
    const lines: Node[] = [];
    for (const p of partitions) {
      const r = this.probe.partitionRam(p.id);
      if (r.size === 0) continue;
      // With overcommit only its private pages keep frames of their own (a shared frame is counted once, below, as used).
      ram += p.pages ? p.pages.private : r.size / FRAME;
      if (!p.pages) {
        ctx.fillStyle = partitionColor(p.id);
        const first = Math.floor((r.host - start) / FRAME / perCell);
        const last = Math.ceil((r.host + r.size - start) / FRAME / perCell);
        for (let c = first; c < last; c++) ctx.fillRect((c % cols) * CELL, Math.floor(c / cols) * CELL, CELL - 1, CELL - 1);
      }
      const swatch = document.createElement('span');
      swatch.style.color = partitionColor(p.id);
      swatch.textContent = '■ ';
      const line = document.createElement('div');
      line.append(swatch, p.pages
        ? `${p.name}: ${r.size / FRAME} pages of demand-allocated RAM; ${p.pages.private} frame${p.pages.private === 1 ? '' : 's'} of its own`
        : `${p.name}: ${r.size / FRAME} frames at 0x${r.host.toString(16)}`);
      lines.push(line);
      if (p.pages) lines.push(pageBar(p.name, p.pages));
    }
    const used = this.probe.framesUsed();
    const total = (end - start) / FRAME;
    lines.push(document.createTextNode(`tables, bitmaps and shared frames: ${Math.max(0, used - ram)} frames; free: ${total - used} of ${total} (a cell is ${perCell} frames)`));
    replaceIfChanged(this.legend, lines);
  }
}

/** A partition's pages by state as a stacked bar and counts; data-* carry the counts (the tests read them). */
function pageBar(name: string, pages: PartitionMemoryMap): HTMLElement {
  const el = document.createElement('div');
  el.className = 'pages';
  el.dataset.partition = name;
  const total = PAGE_STATES.reduce((n, [k]) => n + pages[k], 0) || 1;
  const bar = document.createElement('div');
  bar.className = 'bar';
  const text: string[] = [];
  for (const [k, color] of PAGE_STATES) {
    el.dataset[k] = String(pages[k]);
    const part = document.createElement('span');
    part.style.width = `${(100 * pages[k]) / total}%`;
    part.style.background = color;
    bar.append(part);
    text.push(`${k} ${pages[k]}`);
  }
  el.append(bar, `pages: ${text.join(', ')}; COW breaks ${pages.cowBreaks}`);
  return el;
}
