// The playground page: a threaded host in Web Workers (the same
// runtime/host/host.ts as `hv run`), a form that creates partitions, a card
// per partition, and pictures read from host memory at 10 Hz (those the
// root must be asked for, memory and VMBus, at 4 Hz). Its styles are app.css
// (bundled with xterm.js's and uPlot's).
import { Host } from '../host/host.ts';
import type { PartitionInfo, PartitionStats } from '../host/controller.ts';
import { JIT_MODES, JIT_STATE_ADDR, readJitStats, type JitMode } from '../jit/tier.ts';
import { platform, rootFiles } from '../platform/browser.ts';
import { choiceFor, labGuests, loadCatalog, prepare, PRESETS, type Catalog, type Choice } from './catalog.ts';
import { HostProbe } from './probe.ts';
import { HostMemoryBar } from './views/host-memory-bar.ts';
import { MemoryMap } from './views/memory-map.ts';
import { MipsChart } from './views/mips-chart.ts';
import { PartitionCard } from './views/partition-card.ts';
import { PressureLab } from './views/pressure-lab.ts';
import { Timeline } from './views/timeline.ts';
import { VmbusPanel } from './views/vmbus-panel.ts';
import { setText } from './views/dom.ts';

const $ = <T extends HTMLElement>(sel: string) => document.querySelector<T>(sel)!;
const status = $('#status');

/** ?pcpus=N picks the pCPU threads (default: up to 4 of this machine's). */
const params = new URLSearchParams(location.search);
const PCPUS = Number(params.get('pcpus')) || Math.min(4, navigator.hardwareConcurrency || 2);
/** ?hostMemory=MiB: the frame pool, the host's memory cap for partitions (default 1 GiB; the select at the top reloads the page). */
// 4 MiB: less than one swap_pattern guest checks, so it runs on swap alone (the swap lab).
const HOST_MEMORY_MIB = [4, 16, 32, 64, 128, 256, 1024];
const POOL_MIB = HOST_MEMORY_MIB.find((m) => m === Number(params.get('hostMemory'))) ?? 1024;
const POOL_BYTES = POOL_MIB << 20;
/** ?jit=off|on|always: the JIT tier of every pCPU (a host-wide choice: changing it reloads the page). */
const JIT: JitMode = JIT_MODES.find((m) => m === params.get('jit')) ?? 'off';

async function main(): Promise<void> {
  if (!crossOriginIsolated) {
    status.textContent = 'not cross-origin isolated: SharedArrayBuffer is off (serve the page with `npx hv playground`)';
    return;
  }
  const [host, module, catalog] = await Promise.all([
    Host.start({ pcpus: PCPUS, memoryBytes: POOL_BYTES, jit: JIT }),
    platform.kernelModule(),
    loadCatalog(),
  ]);
  const files = rootFiles();
  const probe = new HostProbe(host.memory, module, host.pcpus);
  status.textContent = `${host.pcpus} pCPUs (Web Workers), ${POOL_MIB} MiB for partitions, JIT ${JIT}, cross-origin isolated`;
  const jitSelect = $<HTMLSelectElement>('#jit');
  jitSelect.value = JIT;
  jitSelect.onchange = () => {
    params.set('jit', jitSelect.value);
    location.search = params.toString();
  };
  const memorySelect = $<HTMLSelectElement>('#host-memory');
  memorySelect.value = String(POOL_MIB);
  memorySelect.onchange = () => {
    params.set('hostMemory', memorySelect.value);
    location.search = params.toString();
  };
  // Off: no pictures are drawn and the root is not asked for figures (only
  // for states), so the bench can measure what the pictures cost.
  const live = $<HTMLInputElement>('#live');

  const cards = new Map<number, PartitionCard>();
  let infos: PartitionInfo[] = [];
  /** The root's figures of each partition, a few times a second (exits, overcommit pages, VMBus channels). */
  const stats = new Map<number, PartitionStats>();
  /** Global vCPU -> partition, for the timeline. */
  const owners = new Map<number, { id: number; name: string }>();
  const timeline = new Timeline($('#timeline'), probe, (v) => owners.get(v));
  const memoryMap = new MemoryMap($('#memory'), probe);
  const chart = new MipsChart($('#mips'));
  const vmbus = new VmbusPanel($('#vmbus'));
  const hostBar = new HostMemoryBar($('#host-memory-bar'));
  const jitStats = $('#jit-stats');
  vmbus.update([]);
  if (JIT === 'off') jitStats.textContent = 'off: pick on or always at the top (the host restarts)';

  fillChoices(catalog);
  /** Creates a partition and its card; starts it if asked. Resolves with its id. */
  const create = async (choice: Choice & { autostart: boolean }): Promise<number> => {
    const { spec, disks } = await prepare(choice, catalog, files);
    const pending: Uint8Array[] = [];
    let card: PartitionCard | undefined;
    const id = await host.create(spec, (b) => (card ? card.write(b) : pending.push(b)));
    const info = (await host.list()).find((p) => p.id === id)!;
    card = new PartitionCard(host, info, disks, {
      download: (path) => void download(files, path),
      removed: () => (cards.delete(id), stats.delete(id)),
    });
    for (const b of pending) card.write(b);
    cards.set(id, card);
    $('#partitions').prepend(card.el);
    const ram = probe.partitionRam(id);
    for (let i = 0; i < ram.vcpus; i++) owners.set(ram.firstVcpu + i, { id, name: spec.name });
    if (choice.autostart) await host.start(id);
    card.term.focus();
    return id;
  };
  wireForm(create);
  new PressureLab($('#lab'), host, labGuests(catalog), (g, name, swap) => create({ ...choiceFor(name, g.what, { ...g.choice, swap }), autostart: false }));

  // Pictures: shared memory every 100 ms; states and exit counts from the root, less often.
  setInterval(() => {
    if (!live.checked) return;
    const now = performance.now();
    timeline.update();
    if (JIT !== 'off') showJit(jitStats, readJitStats(host.memory, JIT_STATE_ADDR));
    const mips = new Map<number, { name: string; mips: number }>();
    for (const [id, card] of cards) {
      const { instructions, counters } = probe.partitionCounters(id);
      card.sample(now, instructions, counters);
      if (card.el.dataset.state === 'running') mips.set(id, { name: card.info.name, mips: card.mips });
    }
    chart.push(Date.now(), mips);
  }, 100);
  // From the root, four times a second: states, exits, memory and VMBus figures.
  const fromRoot = async (): Promise<void> => {
    infos = await host.list();
    for (const p of infos) {
      const card = cards.get(p.id);
      if (!card) continue;
      card.setState(p);
      if (p.state === 'finished' && card.el.dataset.mips === undefined) {
        const s = await host.stats(p.id);
        stats.set(p.id, s);
        card.finished(s);
      } else if (p.state !== 'finished' && live.checked) {
        const s = await host.stats(p.id);
        stats.set(p.id, s);
        card.exitsFrom(s);
        card.balloonFrom(s);
      }
    }
    if (!live.checked) return;
    const shown = infos.filter((p) => cards.has(p.id));
    memoryMap.update(shown.map((p) => ({ ...p, pages: stats.get(p.id)?.totals.memory?.pages })));
    const [memory, endpoint] = await Promise.all([host.hostMemory(), host.endpointStats()]);
    hostBar.update(memory);
    vmbus.update(shown.map((p) => ({ ...p, channels: stats.get(p.id)?.vmbus?.channels ?? [] })), endpoint);
  };
  // A root busy with guests may answer a round after the next is due: rounds do not pile up. A
  // round that fails (a partition destroyed between list and stats) is dropped; the next one redraws.
  let asking = false;
  setInterval(() => {
    if (asking) return;
    asking = true;
    fromRoot()
      .catch((e: Error) => console.warn('playground: a round of figures from the root failed:', e.message))
      .finally(() => (asking = false));
  }, 250);
  document.body.dataset.ready = 'true';
}

function showJit(el: HTMLElement, j: ReturnType<typeof readJitStats>): void {
  el.dataset.regions = String(j.regionsCompiled);
  el.dataset.instructions = String(j.instructions);
  setText(el, `${j.regionsCompiled.toLocaleString('en')} regions compiled (${(j.bytes / 1024).toFixed(0)} KiB of wasm, ${j.compileMs.toFixed(0)} ms), ` +
    `${j.entries.toLocaleString('en')} entries, ${j.instructions.toLocaleString('en')} instructions in translated code, ` +
    `${j.invalidations} invalidations, ${j.flushes} flushes`);
}

function fillChoices(catalog: Catalog): void {
  const select = $<HTMLSelectElement>('select[name=what]');
  const add = (value: string, label: string) => select.append(new Option(label, value));
  for (const g of catalog.guests) add(`guest:${g.name}`, `${g.name}${g.enlightened ? ' (SBI by the hypervisor)' : ''}`);
  if (catalog.opensbi && catalog.uboot) add('uboot', 'OpenSBI + U-Boot');
  if (catalog.linux) add('linux', 'Linux (local build)');
  add('file', 'your kernel…');
  select.value = catalog.guests.some((g) => g.name === 'hello') ? 'guest:hello' : select.options[0]!.value;
}

function wireForm(create: (c: Choice & { autostart: boolean }) => Promise<number>): void {
  const form = $<HTMLFormElement>('#create');
  const error = $('#form-error');
  const el = <T extends HTMLElement>(name: string) => form.elements.namedItem(name) as unknown as T;
  const what = el<HTMLSelectElement>('what');
  const own = form.querySelector<HTMLFieldSetElement>('.own')!;
  const showOwn = () => (own.hidden = what.value !== 'file');
  what.onchange = () => {
    showOwn();
    const preset = PRESETS[what.value] ?? {};
    if (preset.memoryMiB !== undefined) el<HTMLInputElement>('memoryMiB').value = String(preset.memoryMiB);
    if (preset.paging) el<HTMLSelectElement>('paging').value = preset.paging;
    if (preset.overcommit !== undefined) el<HTMLInputElement>('overcommit').checked = preset.overcommit;
    if (preset.balloon) el<HTMLSelectElement>('balloon').value = preset.balloon;
  };
  showOwn();
  let serial = 1;
  form.onsubmit = async (e) => {
    e.preventDefault();
    error.textContent = '';
    const f = new FormData(form);
    const num = (k: string) => Number(f.get(k));
    const file = (k: string) => {
      const v = f.get(k);
      return v instanceof File && v.size > 0 ? v : undefined;
    };
    try {
      await create({
        name: String(f.get('name')), what: what.value, kernelFile: file('kernelFile') ?? dropped.kernel, diskFile: file('diskFile') ?? dropped.disk,
        blankDiskMiB: num('blankDiskMiB'), diskIf: f.get('diskIf') as Choice['diskIf'], ics: f.get('ics') === 'on',
        overcommit: f.get('overcommit') === 'on', salt: num('salt'), balloon: f.get('balloon') as Choice['balloon'], swap: f.get('swap') === 'on', paging: f.get('paging') as Choice['paging'], vcpus: num('vcpus'), memoryMiB: num('memoryMiB'),
        weight: num('weight'), cap: num('cap'), reservation: num('reservation'), append: String(f.get('append') ?? '') || undefined,
        boot: f.get('boot') as Choice['boot'], autostart: f.get('autostart') === 'on',
      });
      el<HTMLInputElement>('name').value = `vm${++serial}`;
      dropped.kernel = dropped.disk = undefined;
    } catch (err) {
      error.textContent = (err as Error).message;
    }
  };
}

/** Files dropped on the page: disk images by their name, anything else is a kernel. */
const dropped: { kernel?: File; disk?: File } = {};
function wireDrop(): void {
  const overlay = $('#drop');
  addEventListener('dragover', (e) => {
    e.preventDefault();
    overlay.hidden = false;
  });
  addEventListener('dragleave', (e) => {
    if (e.relatedTarget === null) overlay.hidden = true;
  });
  addEventListener('drop', (e) => {
    e.preventDefault();
    overlay.hidden = true;
    const form = $<HTMLFormElement>('#create');
    for (const f of e.dataTransfer?.files ?? []) {
      if (/\.(img|raw|vhd|qcow2?|ext[234])$/i.test(f.name)) dropped.disk = f;
      else {
        dropped.kernel = f;
        (form.elements.namedItem('what') as HTMLSelectElement).value = 'file';
        form.querySelector<HTMLFieldSetElement>('.own')!.hidden = false;
      }
    }
    $('#form-error').textContent = `dropped: ${[dropped.kernel?.name, dropped.disk?.name].filter(Boolean).join(', ')}`;
  });
}

async function download(files: ReturnType<typeof rootFiles>, path: string): Promise<void> {
  const bytes = await files.get(path);
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>]));
  a.download = path.split('/').pop()!;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

wireDrop();
main().catch((e: Error) => {
  status.textContent = `the host failed: ${e.message}`;
  console.error(e);
});
