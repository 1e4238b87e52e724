// HV_JIT in the environment picks the JIT mode of every kernel instance that
// is not given one, so the whole suite can run with the JIT forced on
// (docs/jit.md); an explicit mode still wins, and a bad value is an error.
import { afterEach, describe, expect, it } from 'vitest';
import { defaultJitMode } from '../../runtime/jit/tier.ts';
import { runGuest } from '../support/guest.ts';

const saved = process.env.HV_JIT;
afterEach(() => {
  if (saved === undefined) delete process.env.HV_JIT;
  else process.env.HV_JIT = saved;
});

describe('HV_JIT', () => {
  it('translates code of a guest that names no mode when set to always', async () => {
    process.env.HV_JIT = 'always';
    const { output, machine } = await runGuest('guests/bin/rv64i.elf');
    expect(output).toContain('PASS');
    expect(machine.hypervisor.kernel.jit.counters().regionsCompiled).toBeGreaterThan(0);
  });

  it('leaves the JIT off when unset, and an explicit mode wins over it', async () => {
    delete process.env.HV_JIT;
    expect(defaultJitMode()).toBe('off');
    process.env.HV_JIT = 'always';
    const { machine } = await runGuest('guests/bin/rv64i.elf', { jit: 'off' });
    expect(machine.hypervisor.kernel.jit.counters().regionsCompiled).toBe(0);
  });

  it('rejects a value that is not a mode', () => {
    process.env.HV_JIT = 'yes';
    expect(() => defaultJitMode()).toThrow(/HV_JIT takes off, on or always, not 'yes'/);
  });
});
