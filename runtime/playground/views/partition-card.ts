// One partition on the page: its controls, its console (xterm.js, typed
// input goes to the guest) and its figures: MIPS and TLB/page-walk counters
// from shared memory every frame, VM exits by reason from the root (stats()),
// and for a partition with a balloon its target and where the guest is,
// with a box to set a new target (HostController.balloon).
import { Terminal } from '@xterm/xterm';
import type { HostController, PartitionInfo, PartitionStats } from '../../host/controller.ts';
import type { ExitReason } from '../../machine/machine.ts';
import type { VcpuCounters } from '../../machine/vcpu-view.ts';
import { partitionColor } from './colors.ts';
import { setText } from './dom.ts';

export interface CardActions {
  /** Saves a disk of this partition as a file (the browser's download). */
  download(path: string): void;
  /** Removes the card after destroy. */
  removed(): void;
}

/** Counters worth showing for each paging mode (architecture.md, Memory virtualization); TLB hits are not counted by the kernel (its fast path stays one compare). */
const PAGING_COUNTERS: Record<string, (keyof VcpuCounters)[]> = {
  direct: ['tlbMisses', 'tlbFlushes', 'pageWalks', 'walkRefs'],
  nested: ['tlbMisses', 'tlbFlushes', 'pageWalks', 'walkRefs', 'gstageWalks', 'gstageRefs'],
  shadow: ['tlbMisses', 'tlbFlushes', 'pageWalks', 'shadowFills', 'wpFaults', 'shadowFlushes'],
};

export class PartitionCard {
  readonly el = document.createElement('section');
  readonly term: Terminal;
  private readonly figures = document.createElement('div');
  private readonly counters = document.createElement('table');
  private readonly cells = new Map<string, HTMLTableCellElement>();
  private readonly exits = document.createElement('div');
  private readonly stateEl = document.createElement('span');
  private readonly balloonRow = document.createElement('div');
  private readonly balloonText = document.createElement('span');
  private last?: { t: number; instructions: number };
  mips = 0;

  constructor(
    private readonly host: HostController,
    readonly info: PartitionInfo,
    /** Paths of its disks in the root's file store. */
    private readonly disks: string[],
    private readonly actions: CardActions,
  ) {
    const el = this.el;
    el.className = 'card';
    el.dataset.partition = info.name;
    const head = document.createElement('header');
    head.style.borderColor = partitionColor(info.id);
    const title = document.createElement('strong');
    title.textContent = info.name;
    this.stateEl.className = 'state';
    const detail = document.createElement('span');
    detail.className = 'detail';
    detail.textContent = `${info.vcpus} vCPU, ${info.memory >> 20} MiB, ${info.paging}, weight ${info.sched.weight}` +
      (info.sched.cap ? `, cap ${info.sched.cap}%` : '') + (info.sched.reservation ? `, reservation ${info.sched.reservation}%` : '');
    head.append(title, this.stateEl, detail);
    const buttons = document.createElement('div');
    buttons.className = 'buttons';
    const button = (label: string, f: () => Promise<unknown>) => {
      const b = document.createElement('button');
      b.textContent = label;
      b.dataset.action = label;
      b.onclick = () => f().catch((e: Error) => this.term.writeln(`\r\n\x1b[31m${e.message}\x1b[0m`));
      buttons.append(b);
    };
    button('start', () => this.host.start(info.id));
    button('pause', () => this.host.pause(info.id));
    button('resume', () => this.host.resume(info.id));
    button('stop', () => this.host.stop(info.id));
    button('destroy', async () => {
      await this.host.destroy(info.id);
      this.term.dispose();
      el.remove();
      this.actions.removed();
    });
    for (const d of disks) button(`download ${d.split('/').pop()}`, async () => this.actions.download(d));
    const consoleEl = document.createElement('div');
    consoleEl.className = 'console';
    this.figures.className = 'figures';
    this.counters.className = 'counters';
    this.exits.className = 'exits';
    this.figures.append(this.counters, this.exits);
    this.balloonRow.className = 'balloon';
    this.balloonRow.hidden = true;
    const target = document.createElement('input');
    Object.assign(target, { type: 'number', name: 'balloon-target', min: '1', max: String(info.memory >> 20), value: String(info.memory >> 20), step: 'any' });
    const set = document.createElement('button');
    set.textContent = 'set target';
    set.dataset.action = 'balloon';
    set.onclick = () =>
      void this.host.balloon(info.id, Math.round(Number(target.value) * 256) * 4096).catch((e: Error) => this.term.writeln(`\r\n\x1b[31m${e.message}\x1b[0m`));
    this.balloonRow.append(this.balloonText, ' RAM to keep, MiB ', target, set);
    el.append(head, buttons, consoleEl, this.balloonRow, this.figures);
    // convertEol: our guests end lines with a bare \n, as a serial console with onlcr shows them.
    this.term = new Terminal({ rows: 16, cols: 100, convertEol: true, fontSize: 13, theme: { background: '#101216' } });
    this.term.open(consoleEl);
    this.term.onData((s) => void this.host.input(info.id, new TextEncoder().encode(s)).catch(() => {}));
  }

  /** Console output of the guest. */
  write(bytes: Uint8Array): void {
    this.term.write(bytes);
  }

  setState(info: PartitionInfo): void {
    const result = info.result ? ` (${info.result.kind}${'code' in info.result ? ` ${info.result.code}` : ''})` : '';
    this.stateEl.textContent = info.state + result;
    this.el.dataset.state = info.state;
  }

  /** Every frame: figures from shared memory. */
  sample(now: number, instructions: number, counters: VcpuCounters): void {
    if (this.last && now > this.last.t) this.mips = (instructions - this.last.instructions) / (now - this.last.t) / 1000;
    this.last = { t: now, instructions };
    this.el.dataset.instructions = String(instructions);
    const rows = [['instructions', instructions], ['MIPS', this.mips.toFixed(1)]] as [string, string | number][];
    for (const k of PAGING_COUNTERS[this.info.paging] ?? []) rows.push([k, counters[k]]);
    rows.push(['traps', counters.traps], ['interrupts', counters.interrupts]);
    for (const [k, v] of rows) setText(this.cell(k), typeof v === 'number' ? v.toLocaleString('en') : v);
  }

  /** The value cell of counter `k` (its row made on first use; rows never change, only their text). */
  private cell(k: string): HTMLTableCellElement {
    let b = this.cells.get(k);
    if (!b) {
      const tr = this.counters.insertRow();
      tr.insertCell().textContent = k;
      b = tr.insertCell();
      b.dataset.counter = k;
      this.cells.set(k, b);
    }
    return b;
  }

  /** Once finished: what it ran, as the root measured it (from start to finish, on its thread). */
  finished(stats: PartitionStats): void {
    const t = stats.totals;
    this.el.dataset.seconds = String(t.seconds);
    this.el.dataset.instructions = String(t.instructions);
    this.el.dataset.mips = String(t.mips);
    this.exitsFrom(stats);
    this.exits.append(document.createElement('br'), `ran ${t.instructions.toLocaleString('en')} instructions in ${t.seconds.toFixed(3)} s: ${t.mips.toFixed(1)} MIPS`);
  }

  /** A few times a second: its balloon's target and what the guest keeps (data-target, data-actual: bytes). */
  balloonFrom(stats: PartitionStats): void {
    const b = stats.totals.memory?.balloon;
    if (this.balloonRow.hidden !== !b) this.balloonRow.hidden = !b;
    if (!b) return;
    const row = this.balloonRow.dataset;
    if (row.target !== String(b.targetBytes)) row.target = String(b.targetBytes);
    if (row.actual !== String(b.actualBytes)) row.actual = String(b.actualBytes);
    const mib = (n: number) => (n / (1 << 20)).toFixed(1);
    setText(this.balloonText, `balloon: target ${mib(b.targetBytes)} MiB, the guest keeps ${mib(b.actualBytes)} of ${mib(this.info.memory)} MiB;`);
  }

  /** A few times a second: VM exits by reason (counted by the root as it services them). */
  exitsFrom(stats: PartitionStats): void {
    const sum: Record<string, number> = {};
    for (const v of stats.vcpuStats) for (const [k, n] of Object.entries(v.exits) as [ExitReason, number][]) sum[k] = (sum[k] ?? 0) + n;
    setText(this.exits, 'exits: ' + Object.entries(sum).map(([k, n]) => `${k} ${n.toLocaleString('en')}`).join(', '));
  }
}
