// The VMBus panel: each partition's channels (drivers/vmbus/status.ts, read
// by the root between exits) with how full their two rings are, as Linux
// names them from the guest's side: in = host -> guest, out = guest -> host.
// A bar is the ring's data area; its filled part the bytes waiting there.
// Each row carries data-device, data-state, data-in and data-out (the tests read them).
import type { ChannelStatus } from '../../host/controller.ts';
import { partitionColor } from './colors.ts';
import { replaceIfChanged, setText } from './dom.ts';

export interface PartitionChannels {
  id: number;
  name: string;
  channels: ChannelStatus[];
}

export class VmbusPanel {
  constructor(private readonly el: HTMLElement) {}

  update(partitions: readonly PartitionChannels[]): void {
    const shown = partitions.filter((p) => p.channels.length > 0);
    this.el.classList.toggle('placeholder', shown.length === 0);
    if (shown.length === 0) {
      setText(this.el, 'No VMBus channels: boot an enlightened guest with a VMBus disk or integration components (enlightened/vmbus-disk, enlightened/vmbus-ic).');
      return;
    }
    replaceIfChanged(this.el, shown.map((p) => this.partition(p)));
  }

  private partition(p: PartitionChannels): HTMLElement {
    const box = document.createElement('div');
    box.className = 'vmbus-partition';
    box.dataset.partition = p.name;
    const title = document.createElement('div');
    title.style.color = partitionColor(p.id);
    title.textContent = `${p.name}: ${p.channels.length} channel${p.channels.length === 1 ? '' : 's'}`;
    box.append(title, ...p.channels.map((c) => this.channel(c)));
    return box;
  }

  private channel(c: ChannelStatus): HTMLElement {
    const row = document.createElement('div');
    row.className = 'vmbus-channel';
    Object.assign(row.dataset, { device: c.device, state: c.state, in: String(c.inBytes ?? 0), out: String(c.outBytes ?? 0) });
    const label = document.createElement('span');
    label.className = 'vmbus-label';
    label.textContent = `#${c.relid} ${c.device} (${c.state})`;
    row.append(label);
    if (c.ringBytes) row.append(ring('in', c.inBytes ?? 0, c.ringBytes.in), ring('out', c.outBytes ?? 0, c.ringBytes.out));
    return row;
  }
}

function ring(name: string, used: number, size: number): HTMLElement {
  const wrap = document.createElement('span');
  wrap.className = 'vmbus-ring';
  wrap.title = `${name}: ${used} of ${size} bytes waiting`;
  const bar = document.createElement('span');
  bar.className = 'bar';
  const fill = document.createElement('span');
  fill.style.width = `${size > 0 ? Math.min(100, (100 * used) / size) : 0}%`;
  bar.append(fill);
  wrap.append(`${name} `, bar, ` ${used} B`);
  return wrap;
}
