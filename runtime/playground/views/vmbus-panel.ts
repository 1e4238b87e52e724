// The VMBus panel: each partition's channels (drivers/vmbus/status.ts, read
// by the root between exits) with how full their two rings are, as Linux
// names them from the guest's side: in = host -> guest, out = guest -> host.
// A bar is the ring's data area; its filled part the bytes waiting there.
// Each open channel says which thread serves it: the root partition's, or
// the endpoint worker's (a storvsc channel lent to it while its partition
// runs; docs/vmbus.md), and the line above them counts the worker's lends
// and the wake-ups it served (HostController.endpointStats).
// Each row carries data-device, data-state, data-in, data-out and
// data-served-by; the worker's line data-lends and data-serves (the tests read them).
import type { ChannelStatus } from '../../host/controller.ts';
import { partitionColor } from './colors.ts';
import { replaceIfChanged, setText } from './dom.ts';

export interface PartitionChannels {
  id: number;
  name: string;
  channels: ChannelStatus[];
}

export interface EndpointCounters {
  lends: number;
  serves: number;
}

export class VmbusPanel {
  private readonly worker = document.createElement('div');
  private readonly list = document.createElement('div');

  constructor(el: HTMLElement) {
    this.worker.className = 'vmbus-worker';
    el.append(this.worker, this.list);
  }

  update(partitions: readonly PartitionChannels[], endpoint?: EndpointCounters): void {
    if (endpoint) {
      const d = this.worker.dataset;
      if (d.lends !== String(endpoint.lends)) d.lends = String(endpoint.lends);
      if (d.serves !== String(endpoint.serves)) d.serves = String(endpoint.serves);
      setText(this.worker, `endpoint worker: ${endpoint.lends} channel${endpoint.lends === 1 ? '' : 's'} lent so far, ` +
        `${endpoint.serves.toLocaleString('en')} wake-ups that served a guest's signal`);
    }
    const shown = partitions.filter((p) => p.channels.length > 0);
    this.list.classList.toggle('placeholder', shown.length === 0);
    if (shown.length === 0) {
      setText(this.list, 'No VMBus channels: boot an enlightened guest with a VMBus disk or integration components (enlightened/vmbus-disk, enlightened/vmbus-ic).');
      return;
    }
    replaceIfChanged(this.list, shown.map((p) => this.partition(p)));
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
    if (c.servedBy) row.dataset.servedBy = c.servedBy;
    const label = document.createElement('span');
    label.className = 'vmbus-label';
    label.textContent = `#${c.relid} ${c.device} (${c.state})`;
    row.append(label);
    if (c.servedBy) {
      const by = document.createElement('span');
      by.className = `served-by ${c.servedBy === 'root' ? 'root' : 'worker'}`;
      by.textContent = c.servedBy;
      by.title = `served by the ${c.servedBy}`;
      row.append(by);
    }
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
