// Guest speed over the last minute: MIPS per partition, one uPlot line each.
import uPlot from 'uplot';
import { partitionColor } from './colors.ts';

const SAMPLES = 600; // a minute at 10 Hz

export class MipsChart {
  private plot?: uPlot;
  private ids: number[] = [];
  private readonly t: number[] = [];
  private readonly series = new Map<number, (number | null)[]>();
  private readonly names = new Map<number, string>();

  constructor(private readonly parent: HTMLElement) {}

  push(t: number, mips: ReadonlyMap<number, { name: string; mips: number }>): void {
    this.t.push(t / 1000);
    for (const [id, m] of mips) this.names.set(id, m.name);
    for (const [id] of mips) if (!this.series.has(id)) this.series.set(id, Array<number | null>(this.t.length - 1).fill(null));
    for (const [id, s] of this.series) s.push(mips.get(id)?.mips ?? null);
    if (this.t.length > SAMPLES) {
      this.t.shift();
      for (const s of this.series.values()) s.shift();
    }
    for (const [id, s] of this.series) if (s.every((v) => v === null)) this.series.delete(id);
    const ids = [...this.series.keys()];
    if (!this.plot || ids.join() !== this.ids.join()) this.rebuild(ids);
    this.plot!.setData([this.t, ...ids.map((id) => this.series.get(id)!)] as uPlot.AlignedData);
  }

  private rebuild(ids: number[]): void {
    this.plot?.destroy();
    this.ids = ids;
    this.plot = new uPlot(
      {
        width: this.parent.clientWidth || 500,
        height: 160,
        legend: { show: true },
        axes: [{ stroke: '#aaa' }, { stroke: '#aaa', label: 'MIPS' }],
        scales: { x: { time: true } },
        series: [{}, ...ids.map((id) => ({ label: this.names.get(id) ?? `#${id}`, stroke: partitionColor(id), width: 2 }))],
      },
      [this.t, ...ids.map((id) => this.series.get(id)!)] as uPlot.AlignedData,
      this.parent,
    );
  }
}
