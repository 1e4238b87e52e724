// The memory pressure lab: start several overcommit partitions with a
// balloon on a host whose memory is capped (the host memory select at the
// top), then squeeze them by hand (each card's balloon target) or let the
// automatic balloon policy (HostController.balloonPolicy,
// runtime/host/balloon-policy.ts) share a budget between them, and watch
// the memory map and the host-memory bar move. The switch's element
// carries data-policy="on"|"off" (the tests read it).
import type { HostController } from '../../host/controller.ts';
import type { LabGuest } from '../catalog.ts';

const MIB = 1 << 20;

export class PressureLab {
  private readonly policy = document.createElement('input');
  private readonly budget = document.createElement('input');
  private readonly step = document.createElement('input');
  private readonly policyState = document.createElement('span');
  private readonly error = document.createElement('div');
  private serial = 0;

  constructor(
    private readonly el: HTMLElement,
    private readonly host: HostController,
    guests: readonly LabGuest[],
    /** Creates a partition of `guest` named `name`, with hypervisor swap or not (the form's path); resolves with its id. */
    create: (guest: LabGuest, name: string, swap: boolean) => Promise<number>,
  ) {
    const intro = document.createElement('p');
    intro.className = 'detail';
    intro.textContent = 'Overcommit partitions take a frame for a page only when the guest writes it. Start a few on a small host ' +
      '(host memory, at the top), give each a balloon target on its card, or switch on the policy to share a budget between them.';
    const starter = document.createElement('div');
    starter.className = 'lab-row';
    const count = number('count', 3, 1, 16);
    const which = document.createElement('select');
    which.name = 'lab-guest';
    guests.forEach((g, i) => which.append(new Option(g.label, String(i))));
    const go = document.createElement('button');
    go.textContent = 'start';
    go.dataset.action = 'lab-start';
    go.disabled = guests.length === 0;
    go.onclick = async () => {
      this.error.textContent = '';
      const guest = guests[Number(which.value)]!;
      try {
        // All created before any starts: a partition's fixed frames (G-stage tables, VMBus pages) are
        // not reclaimed for from running guests, so creating one on a pool they filled can fail.
        const ids: number[] = [];
        for (let i = 0; i < Number(count.value); i++) ids.push(await create(guest, `${guest.prefix}${++this.serial}`, swap.checked));
        for (const id of ids) await host.start(id);
      } catch (e) {
        this.error.textContent = (e as Error).message;
      }
    };
    const swap = document.createElement('input');
    Object.assign(swap, { type: 'checkbox', name: 'lab-swap' });
    const swapLabel = document.createElement('label');
    swapLabel.append(swap, ' with swap');
    swapLabel.title = 'hypervisor swap: when the host runs short of frames it writes pages the guests have not touched lately to a file';
    starter.append(count, ' \u00d7 ', which, swapLabel, go);
    if (guests.length === 0) starter.append(' (no lab guest on this server: build guests/ or Linux)');

    const switchRow = document.createElement('div');
    switchRow.className = 'lab-row';
    this.policy.type = 'checkbox';
    this.policy.name = 'policy';
    this.budget.placeholder = 'their targets';
    Object.assign(this.budget, { type: 'number', name: 'budget', min: '1' });
    Object.assign(this.step, { type: 'number', name: 'step', min: '1', value: '16' });
    const label = document.createElement('label');
    label.append(this.policy, ' automatic balloon policy');
    switchRow.append(label, ' budget, MiB ', this.budget, ' step, MiB ', this.step, ' ', this.policyState);
    this.policy.onchange = () => void this.switchPolicy();
    this.error.className = 'error';
    this.show(null);
    el.append(intro, starter, switchRow, this.error);
  }

  private async switchPolicy(): Promise<void> {
    this.error.textContent = '';
    const budget = Number(this.budget.value);
    const options = this.policy.checked ? { ...(budget > 0 ? { budgetBytes: budget * MIB } : {}), stepBytes: Number(this.step.value) * MIB } : null;
    try {
      this.show(await this.host.balloonPolicy(options));
    } catch (e) {
      this.error.textContent = (e as Error).message;
      this.policy.checked = false;
      this.show(null);
    }
  }

  private show(config: { budgetBytes: number; stepBytes: number } | null): void {
    this.el.dataset.policy = config ? 'on' : 'off';
    this.policyState.textContent = config
      ? `on: ${config.budgetBytes / MIB} MiB shared by the running balloons, at most ${config.stepBytes / MIB} MiB a step each, every second`
      : 'off';
  }
}

function number(name: string, value: number, min: number, max: number): HTMLInputElement {
  const input = document.createElement('input');
  Object.assign(input, { type: 'number', name, value: String(value), min: String(min), max: String(max) });
  return input;
}
