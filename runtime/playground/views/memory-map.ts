// The memory map: host frames of the frame pool as a grid of cells, each
// cell a run of frames, coloured by the partition whose RAM holds it; grey
// is free. Frames handed out for anything else (G-stage and shadow tables,
// page-table bitmaps) are counted beside it: the allocator does not record
// their owner. Partitions with overcommit (docs/memory.md) have no RAM run
// to draw (their frames come one by one from anywhere in the pool): each
// gets a bar of its pages by state (page-states.ts) from stats(), as the
// root reads them, and the legend above counts every state over them all.
import type { PartitionMemoryMap } from '../../machine/overcommit.ts';
import type { HostProbe } from '../probe.ts';
import { partitionColor } from './colors.ts';
import { replaceIfChanged, setText } from './dom.ts';
import { PAGE_STATES, pagesByState, type PageState } from './page-states.ts';

const CELL = 6;
const FRAME = 4096;

export class MemoryMap {
  private readonly states = document.createElement('div');
  private readonly counts = new Map<PageState, HTMLElement>();
  private readonly canvas = document.createElement('canvas');
  private readonly legend = document.createElement('div');
  /** What the canvas shows now (its size and the RAM runs drawn): it is redrawn only when that changes. */
  private drawn = '';

  constructor(
    parent: HTMLElement,
    private readonly probe: HostProbe,
  ) {
    // The legend of page states: built once, only its counts change.
    this.states.className = 'page-legend';
    for (const { state, color, meaning } of PAGE_STATES) {
      const item = document.createElement('span');
      item.dataset.state = state;
      item.title = meaning;
      const swatch = document.createElement('span');
      swatch.style.color = color;
      swatch.textContent = '\u25a0 ';
      const count = document.createElement('span');
      count.className = 'count';
      this.counts.set(state, count);
      item.append(swatch, `${state} `, count);
      this.states.append(item);
    }
    this.legend.className = 'legend';
    parent.append(this.states, this.canvas, this.legend);
  }

  update(partitions: readonly { id: number; name: string; pages?: PartitionMemoryMap }[]): void {
    const { start, end } = this.probe.pool;
    const w = this.canvas.clientWidth || 400;
    const cols = Math.floor(w / CELL);
    const cells = cols * 24;
    const perCell = Math.ceil((end - start) / FRAME / cells);
    const h = Math.ceil((end - start) / FRAME / perCell / cols) * CELL;
    const rams = partitions.map((p) => ({ p, r: this.probe.partitionRam(p.id) })).filter(({ r }) => r.size > 0);
    const runs = rams.filter(({ p }) => !p.pages);
    const drawn = `${w}x${h};${runs.map(({ p, r }) => `${p.id}@${r.host}+${r.size}`).join()}`;
    if (drawn !== this.drawn) {
      this.drawn = drawn;
      // Setting a canvas's size reallocates and clears it: only when the layout changed.
      if (this.canvas.width !== w) this.canvas.width = w;
      if (this.canvas.height !== h) this.canvas.height = h;
      const ctx = this.canvas.getContext('2d')!;
      ctx.fillStyle = '#3a3f4b';
      ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
      for (const { p, r } of runs) {
        ctx.fillStyle = partitionColor(p.id);
        const first = Math.floor((r.host - start) / FRAME / perCell);
        const last = Math.ceil((r.host + r.size - start) / FRAME / perCell);
        for (let c = first; c < last; c++) ctx.fillRect((c % cols) * CELL, Math.floor(c / cols) * CELL, CELL - 1, CELL - 1);
      }
    }
    const totals = Object.fromEntries(PAGE_STATES.map(({ state }) => [state, 0])) as Record<PageState, number>;
    let ram = 0;
    const lines: Node[] = [];
    for (const { p, r } of rams) {
      // With overcommit only its private pages keep frames of their own (a shared frame is counted once, below, as used).
      ram += p.pages ? p.pages.private : r.size / FRAME;
      if (p.pages) for (const [k, n] of Object.entries(pagesByState(p.pages)) as [PageState, number][]) totals[k] += n;
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
    lines.push(document.createTextNode(`tables, bitmaps and shared frames: ${Math.max(0, used - ram)} frames; free: ${total - used} of ${total} (a cell is ${perCell} frames; ` +
      'the grid colours RAM runs only: an overcommit partition takes its frames one by one from anywhere, and its bar shows them)'));
    replaceIfChanged(this.legend, lines);
    for (const [state, el] of this.counts) {
      setText(el, totals[state].toLocaleString('en'));
      if (el.parentElement!.dataset.count !== String(totals[state])) el.parentElement!.dataset.count = String(totals[state]);
    }
  }
}

/** A partition's pages by state as a stacked bar and counts; data-* carry the counts (the tests read them). */
function pageBar(name: string, map: PartitionMemoryMap): HTMLElement {
  const pages = pagesByState(map);
  const el = document.createElement('div');
  el.className = 'pages';
  el.dataset.partition = name;
  const total = PAGE_STATES.reduce((n, { state }) => n + pages[state], 0) || 1;
  const bar = document.createElement('div');
  bar.className = 'bar';
  const text: string[] = [];
  for (const { state, color } of PAGE_STATES) {
    el.dataset[state] = String(pages[state]);
    const part = document.createElement('span');
    part.style.width = `${(100 * pages[state]) / total}%`;
    part.style.background = color;
    bar.append(part);
    if (pages[state] > 0) text.push(`${state} ${pages[state]}`);
  }
  el.append(bar, `pages: ${text.join(', ')}; COW breaks ${map.cowBreaks}`);
  return el;
}
