// Interrupts that are prompt and never lost: guests/bin/irq_spin.elf (idle by
// spinning with interrupts on, no WFI, as xv6-riscv's scheduler) and
// irq_wfi.elf (idle in WFI) read the disk and take typed input, each only
// through PLIC interrupts (guests/tests/irq_latency.h), with no timer armed:
// an interrupt noticed only at a timer tick would never be noticed at all.
// Their check lines must match guests/expected (QEMU 7.2, written by
// guests/run-qemu-irq.py); their "latency" lines are the figures printed here.
//
// Bounds, in guest instructions (never host time, so load cannot flake them):
//  - disk: from the QueueNotify store to the handler. The device completes the
//    request while the store is a VM exit (threaded) or a call (deterministic)
//    and raises the line before the vCPU runs on: the interrupt is taken at the
//    next instruction boundary, so the figure is the trap entry alone (63-64).
//  - WFI: from enabling the receive interrupt to the handler when the byte
//    comes while the hart waits in WFI: the WFI retires and the trap follows.
//  - spinning, threaded: "seen" is how many instructions the hart ran while it
//    could already read mip.MEIP set; the root's kick makes it take the
//    interrupt at the next instruction. The bound asserted is the scheduler's
//    chunk (10 ms of guest time, 1,000,000 instructions), which holds even if
//    the root thread is descheduled between raising the line and kicking.
//  - spinning, deterministic: input arrives between rounds; the interrupt is
//    taken before the first instruction of the next slice (at most a slice
//    of 100,000 instructions after "ready").
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryFile } from '../../drivers/block/file.ts';
import { RawDevice } from '../../drivers/block/raw.ts';
import { parseElf } from '../../runtime/loader/elf.ts';
import { Machine } from '../../runtime/machine/machine.ts';
import { ConsoleSession } from '../support/session.ts';

const GUESTS = ['irq_spin', 'irq_wfi'] as const;
type Guest = (typeof GUESTS)[number];
const INPUTS = 2;
const TRAP_ENTRY_MAX = 100; // the handler's first statement: 63-64 instructions after the interrupt
const CHUNK = 1_000_000; // a scheduler tick of guest instructions (threaded: 100,000 per ms)
const SLICE = 100_000; // Hypervisor.run's default slice

/** Byte i of sector s is (s * 37 + i) & 0xff (irq_latency.h). */
function diskImage(): Uint8Array {
  const img = new Uint8Array(64 * 1024);
  for (let i = 0; i < img.length; i++) img[i] = ((i >> 9) * 37 + (i & 511)) & 0xff;
  return img;
}

interface Figures {
  disk: { insns: number; ticks: number }[];
  uart: { insns: number; ticks: number; seen: number }[];
}

function figures(output: string): Figures {
  const f: Figures = { disk: [], uart: [] };
  for (const m of output.matchAll(/^latency disk \d+: insns (\d+) ticks (\d+)$/gm)) f.disk.push({ insns: +m[1]!, ticks: +m[2]! });
  for (const m of output.matchAll(/^latency uart \d+: insns (\d+) ticks (\d+) seen (-?\d+)$/gm)) {
    f.uart.push({ insns: +m[1]!, ticks: +m[2]!, seen: +m[3]! });
  }
  return f;
}

const checks = (output: string) => output.replace(/^latency.*\n/gm, '');
const expected = (g: Guest) => readFileSync(`guests/expected/${g}.out`, 'latin1');

function report(label: string, f: Figures): void {
  const us = (ticks: number) => `${(ticks / 10).toFixed(1)} us`; // of guest mtime (10 MHz): host time when threaded
  const disk = f.disk.map((d) => `${d.insns} insns/${us(d.ticks)}`).join(', ');
  const uart = f.uart.map((u) => `${u.insns} insns/${us(u.ticks)}${u.seen >= 0 ? ` (seen pending ${u.seen} insns before)` : ''}`).join(', ');
  console.log(`${label}: disk notify->handler ${disk}; uart ready->handler ${uart}`);
}

/**
 * `spinWait`: the most instructions the spinning guest may run from "ready" to
 * the handler (undefined: host time decides, as when a person types);
 * `seen`: the most it may run while mip.MEIP is visibly pending.
 */
function checkFigures(g: Guest, f: Figures, bounds: { spinWait?: number; seen: number }): void {
  expect(f.disk).toHaveLength(4);
  for (const d of f.disk) expect(d.insns).toBeLessThanOrEqual(TRAP_ENTRY_MAX);
  expect(f.uart).toHaveLength(INPUTS);
  for (const u of f.uart) {
    if (g === 'irq_wfi') expect(u.insns).toBeLessThanOrEqual(TRAP_ENTRY_MAX + 10);
    else if (bounds.spinWait !== undefined) expect(u.insns).toBeLessThanOrEqual(bounds.spinWait);
    expect(u.seen).toBeLessThanOrEqual(bounds.seen);
  }
}

describe('interrupt latency guests, deterministic (in-process, instruction-counted time)', () => {
  it.each(GUESTS)('%s: disk and typed input by interrupt, within the bounds, exactly as on QEMU', async (g) => {
    let output = '';
    let typed = 0;
    const machine: Machine = new Machine({
      ramSize: 16 << 20,
      harts: 1,
      clock: 'icount',
      drives: [new RawDevice(new MemoryFile(diskImage()))],
      // Console output reaches us between rounds: type the next byte when the
      // guest asks for it, as a person would (deterministically here).
      onConsole: (b) => {
        output += Buffer.from(b).toString('latin1');
        while (output.includes(`ready ${typed}\n`)) machine.input(String.fromCharCode(0x61 + typed++));
      },
    });
    machine.boot(machine.loadElf(parseElf(readFileSync(`guests/bin/${g}.elf`))), machine.placeDtb());
    const result = await machine.run({ maxInsns: 50_000_000 });
    expect(checks(output)).toBe(expected(g));
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
    const f = figures(output);
    report(`${g} deterministic`, f);
    checkFigures(g, f, { spinWait: SLICE + TRAP_ENTRY_MAX, seen: TRAP_ENTRY_MAX });
  });
});

describe('interrupt latency guests, hv run (typed on stdin)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hv-irq-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let session: ConsoleSession | undefined;

  const modes: [string, string[], 'threaded' | 'deterministic'][] = [
    ['threaded, 1 pCPU', ['--pcpus', '1'], 'threaded'],
    ['threaded, 2 pCPUs', ['--pcpus', '2'], 'threaded'],
    ['--deterministic', ['--deterministic'], 'deterministic'],
    ['--deterministic --pcpus 2 (the kernel scheduler on one thread)', ['--deterministic', '--pcpus', '2'], 'deterministic'],
  ];
  const runs = modes.flatMap(([label, args, mode]) => GUESTS.map((g) => [g, label, args, mode] as const));

  it.each(runs)('%s, %s: every interrupt arrives, within the bounds, and the checks are QEMU\'s', async (g, label, args, mode) => {
    const disk = join(dir, `${g}-${args.join('')}.raw`);
    writeFileSync(disk, diskImage());
    const s = (session = ConsoleSession.hv(['run', ...args, '--timeout', '60', '-drive', `file=${disk},format=raw,if=virtio`, `guests/bin/${g}.elf`]));
    try {
      for (let n = 0; n < INPUTS; n++) {
        await s.waitFor(`ready ${n}\n`, 30_000);
        s.type(String.fromCharCode(0x61 + n));
      }
      expect(await s.exited).toBe(0);
    } finally {
      s.kill();
    }
    expect(checks(s.output)).toBe(expected(g));
    const f = figures(s.output);
    report(`${g} ${label}`, f);
    // The spinning guest waits for as long as the typist takes (host time, in
    // every mode here); --deterministic takes stdin between rounds, so the
    // interrupt comes at a slice start, before the hart can see it pending.
    checkFigures(g, f, { seen: mode === 'threaded' ? CHUNK : TRAP_ENTRY_MAX });
  });
  afterAll(() => session?.kill());
});
