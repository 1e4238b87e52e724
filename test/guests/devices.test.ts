// Device guests: plic_uart (16550 UART and PLIC interrupt paths, in UART
// loopback) and smp_ipi (CLINT IPIs and timers on 4 harts, LR/SC spinlock).
// Each must print exactly guests/expected/<name>.out (recorded on QEMU 7.2
// by guests/run-qemu.sh --update) and exit 0 through the finisher.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClockMode } from '../../runtime/machine/clock.ts';
import { runGuest } from '../support/guest.ts';

interface DeviceGuest {
  name: string;
  harts: number;
}

// Checks 101-103 of plic_uart ("line dropped: ...") hold a forwarded request
// pending after its line drops (drivers/emulated/plic.ts, setIrq).
const PLIC_UART: DeviceGuest = { name: 'plic_uart', harts: 1 };
const SMP_IPI: DeviceGuest = { name: 'smp_ipi', harts: 4 };

const elf = (g: DeviceGuest) => join('guests/bin', `${g.name}.elf`);
const expected = (g: DeviceGuest) => readFileSync(join('guests/expected', `${g.name}.out`), 'latin1');

describe('device guests on hv', () => {
  const runs: [string, ClockMode, DeviceGuest, ('direct' | 'nested')?][] = [
    ['plic_uart', 'icount', PLIC_UART],
    ['smp_ipi -smp 4', 'icount', SMP_IPI],
    ['smp_ipi -smp 4', 'realtime', SMP_IPI],
    ['smp_ipi -smp 4 under nested paging', 'icount', SMP_IPI, 'nested'],
  ];
  it.each(runs)('%s (%s clock) prints expected output and exits 0', async (_label, clock, g, paging) => {
    const { output, result } = await runGuest(elf(g), { harts: g.harts, clock, paging });
    expect(output).toBe(expected(g));
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
  });

  it('smp_ipi with a single hart says so and checks nothing', async () => {
    const { output, result } = await runGuest(elf(SMP_IPI), { harts: 1 });
    expect(output).toBe('# smp_ipi\nneeds 4 harts (-smp 4), found 1: nothing checked\n');
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
  });
});
