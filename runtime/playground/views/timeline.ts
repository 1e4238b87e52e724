// The scheduler timeline: one row per pCPU, the runs its trace ring
// recorded (kernel/sched/pcpu.ts traceRun) over the last WINDOW of its
// clock, coloured by partition. A run that ended in an exit to the root or
// a WFI has a dark tick at its end; blank is idle time. Each row's
// data-partitions lists the partitions that ran in the window (the tests read it).
import type { TraceEntry } from '../../host/sched.ts';
import type { HostProbe } from '../probe.ts';
import { partitionColor } from './colors.ts';
import { setText } from './dom.ts';

/** Shown window of each pCPU's clock, in instructions (100 M: about a second at 100 MIPS). */
const WINDOW = 100_000_000;

export class Timeline {
  private readonly runs: TraceEntry[][];
  private readonly rows: { canvas: HTMLCanvasElement; label: HTMLElement }[] = [];

  constructor(
    parent: HTMLElement,
    private readonly probe: HostProbe,
    /** Global vCPU index -> partition id and name (undefined once it is gone). */
    private readonly owner: (vcpu: number) => { id: number; name: string } | undefined,
  ) {
    this.runs = Array.from({ length: probe.pcpus }, () => []);
    for (let p = 0; p < probe.pcpus; p++) {
      const row = document.createElement('div');
      row.className = 'tl-row';
      row.dataset.pcpu = String(p);
      const label = document.createElement('span');
      label.className = 'tl-label';
      const canvas = document.createElement('canvas');
      canvas.height = 28;
      row.append(label, canvas);
      parent.append(row);
      this.rows.push({ canvas, label });
    }
  }

  update(): void {
    for (let p = 0; p < this.probe.pcpus; p++) {
      const now = this.probe.clock(p);
      const runs = this.runs[p]!;
      runs.push(...this.probe.newRuns(p));
      while (runs.length && Number(runs[0]!.start) + runs[0]!.length < now - WINDOW) runs.shift();
      this.draw(p, now, runs);
    }
  }

  private draw(p: number, now: number, runs: TraceEntry[]): void {
    const { canvas, label } = this.rows[p]!;
    // Setting a canvas's size reallocates and clears it: only when the layout changed.
    const w = canvas.clientWidth || 600;
    if (canvas.width !== w) canvas.width = w;
    const h = canvas.height;
    const ctx = canvas.getContext('2d')!;
    ctx.fillStyle = '#1b1e24';
    ctx.fillRect(0, 0, w, h);
    const x = (t: number) => ((t - (now - WINDOW)) / WINDOW) * w;
    const seen = new Map<number, string>();
    let busy = 0;
    for (const r of runs) {
      const who = this.owner(r.vcpu);
      if (!who) continue;
      seen.set(who.id, who.name);
      busy += r.length;
      const x0 = Math.max(0, x(Number(r.start)));
      const x1 = x(Number(r.start) + r.length);
      ctx.fillStyle = partitionColor(who.id);
      ctx.fillRect(x0, 3, Math.max(1, x1 - x0), h - 6);
      if (r.exit !== 0) {
        ctx.fillStyle = '#000';
        ctx.fillRect(Math.max(0, x1 - 1), 3, 1, h - 6);
      }
    }
    const names = [...seen.values()];
    setText(label, `pCPU ${p} ${Math.min(100, (busy / WINDOW) * 100).toFixed(0)}%`);
    canvas.parentElement!.dataset.partitions = names.join(',');
  }
}
