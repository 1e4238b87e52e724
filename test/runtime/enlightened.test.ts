// Enlightened guests end to end: S-mode ELFs booted with the hypervisor as
// their SBI firmware (Machine.bootEnlightened, `hv run -bios hv`), their
// console output through the SBI console, and how SRST and HSM end a run.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BIN, EID, runEnlightened, SbiHarness } from '../support/enlightened.ts';

describe('enlightened guests on Machine', () => {
  it('sbi-hello prints through DBCN, learns its ids by hypercall and shuts down with SRST', async () => {
    const { output, result, machine } = await runEnlightened('sbi-hello');
    expect(output).toBe(
      'Hello from an enlightened guest: S-mode, hart 0\n' +
        'SBI v2.0, implementation 0x6876 version 0x1, console DBCN\n' +
        'hypercalls at EID 0xa006876: partition 0, vCPU 0 of 1\n' +
        'instructions retired so far: some\n' +
        'Goodbye (SRST shutdown)\n',
    );
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    const stats = machine.stats();
    expect(stats.sbiCalls).toBeGreaterThan(5);
    expect(stats.mmioExits).toBe(0); // no emulated device touched
  });

  it.each([1, 2, 4, 8])('sbi-smp starts, synchronises and stops %i harts', async (harts) => {
    const { output, result } = await runEnlightened('sbi-smp', { harts });
    const lines = output.trimEnd().split('\n');
    expect(lines[0]).toBe(`boot hart 0: ${harts} harts`);
    for (let h = 1; h < harts; h++) {
      expect(lines).toContain(`hart ${h}: started by hart 0 (opaque ok)`);
      expect(lines).toContain(`hart ${h}: got the IPI, stopping`);
    }
    expect(lines).toContain(`boot hart: all ${harts - 1} other harts checked in`);
    expect(lines.at(-1)).toBe(`boot hart: every other hart stopped; ${harts} harts in all`);
    expect(lines).toHaveLength(3 + 2 * (harts - 1));
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
  });

  it('sbi-timer takes S-timer interrupts from SBI set_timer', async () => {
    const { output, result } = await runEnlightened('sbi-timer');
    expect(output).toBe(
      'tick 1\ntick 2\ntick 3\ntick 4\ntick 5\n' +
        'timer: 5 interrupts, 0 before their deadline\n' +
        'after set_timer(-1): STIP 0\n' +
        'past deadline (legacy set_timer): STIP 1, interrupt taken yes\n',
    );
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
  });

  it('sbi-timer also runs on the realtime clock (idle waits for the S-timer deadline)', async () => {
    const { output, result } = await runEnlightened('sbi-timer', { clock: 'realtime' });
    expect(output).toContain('timer: 5 interrupts, 0 before their deadline\n');
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
  });

  it.each([1, 2, 3])('sbi-probe passes every check with %i harts', async (harts) => {
    const { output, result } = await runEnlightened('sbi-probe', { harts });
    expect(output).not.toMatch(/FAIL/);
    expect(output).toMatch(/^SBI spec v2\.0, implementation 0x6876 \(hv\) version 0x1$/m);
    for (const ext of ['BASE', 'TIME', 'IPI', 'RFENCE', 'HSM', 'SRST', 'DBCN', 'hv hypercalls']) {
      expect(output).toMatch(new RegExp(`^probe ${ext} +1$`, 'm'));
    }
    expect(output).toMatch(/^probe PMU +0$/m);
    expect(output).toMatch(/^ok \d+ hsm: start self \(already started\)$/m);
    expect(output).toMatch(/^ok \d+ dbcn: write from outside RAM$/m);
    expect(output).toMatch(/^ok \d+ hv: vCPU count$/m);
    expect(output).toMatch(/^PASSED all \d+ checks$/m);
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
  });

  it.each(['sbi-hello', 'sbi-smp', 'sbi-timer', 'sbi-probe'])(
    '%s runs the same under nested paging, its SBI calls reaching memory through G-stage walks',
    async (name) => {
      const direct = await runEnlightened(name, { harts: 2 });
      const nested = await runEnlightened(name, { harts: 2, paging: 'nested' });
      expect(nested.output).toBe(direct.output);
      expect(nested.result).toEqual(direct.result);
      expect(nested.machine.instructions()).toBe(direct.machine.instructions());
      expect(nested.machine.stats().gstageWalks).toBeGreaterThan(0);
    },
  );

  it.each(['sbi-smp', 'sbi-probe'])('%s runs the same under shadow paging', async (name) => {
    const direct = await runEnlightened(name, { harts: 2 });
    const shadow = await runEnlightened(name, { harts: 2, paging: 'shadow' });
    expect(shadow.output).toBe(direct.output);
    expect(shadow.result).toEqual(direct.result);
  });

  it('leaves the other harts stopped until HSM starts them', async () => {
    const { machine } = await runEnlightened('sbi-hello', { harts: 3 });
    expect(machine.harts.map((h) => h.state)).toEqual([1, 0, 0]);
    expect(machine.harts[1]!.instret).toBe(0);
  });
});

describe('how SBI ends a run', () => {
  /** Runs the harness partition from its ECALL with the given call set up on hart 0. */
  async function runCall(eid: bigint, fid: number, args: bigint[] = [], harts = 1) {
    const t = new SbiHarness(harts);
    const h = t.hart(0);
    args.forEach((a, i) => h.setX(10 + i, a));
    h.setX(16, BigInt(fid));
    h.setX(17, eid);
    return t.machine.run({ maxInsns: 100_000 });
  }

  it.each([
    ['shutdown, no reason', 0n, 0n, { kind: 'exit', code: 0, reason: 'sbi' }],
    ['shutdown, system failure', 0n, 1n, { kind: 'exit', code: 1, reason: 'sbi' }],
    ['shutdown with hv exit code 42', 0n, 0xe000_002an, { kind: 'exit', code: 42, reason: 'sbi' }],
    ['cold reboot', 1n, 0n, { kind: 'reset', type: 'cold' }],
    ['warm reboot', 2n, 0n, { kind: 'reset', type: 'warm' }],
  ])('SRST %s', async (_what, type, reason, want) => {
    expect(await runCall(EID.SRST, 0, [type, reason])).toEqual(want);
  });

  it('legacy shutdown exits with code 0', async () => {
    expect(await runCall(0x08n, 0)).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
  });

  it('a run whose every hart has stopped itself ends', async () => {
    expect(await runCall(EID.HSM, 1, [], 2)).toEqual({ kind: 'stopped' });
  });

  it('yield and a full console ring only return to the host for a moment', async () => {
    expect(await runCall(EID.HV, 2)).toEqual({ kind: 'insn-limit' });
  });
});

describe('hv run -bios hv', () => {
  function hv(...args: string[]) {
    const r = spawnSync(process.execPath, ['bin/hv.js', 'run', ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('runs an S-mode kernel with the hypervisor as its SBI firmware', () => {
    const r = hv('-bios', 'hv', '-smp', '2', '-kernel', `${BIN}/sbi-smp.elf`);
    // Each line follows from the one before it (hart 1 starts, checks in,
    // takes the IPI and stops as hart 0 waits for it), so the console shows
    // them in this order even with the harts on different pCPU threads.
    expect(r.stdout).toBe(
      'boot hart 0: 2 harts\n' +
        'hart 1: started by hart 0 (opaque ok)\n' +
        'boot hart: all 1 other harts checked in\n' +
        'hart 1: got the IPI, stopping\n' +
        'boot hart: every other hart stopped; 2 harts in all\n',
    );
    expect(r.code).toBe(0);
  });

  it('takes the kernel as a positional FILE too, and counts SBI calls with --stats', () => {
    const r = hv('-bios', 'hv', '--stats', `${BIN}/sbi-hello.elf`);
    expect(r.stdout).toMatch(/^Hello from an enlightened guest/);
    expect(r.stderr).toMatch(/SBI calls\s+\d+/);
    expect(r.code).toBe(0);
  });

  it('exits with the code the guest passes to SRST', () => {
    const r = hv('-bios', 'hv', '-smp', '2', `${BIN}/sbi-probe.elf`);
    expect(r.stdout).toMatch(/PASSED all \d+ checks\n$/);
    expect(r.code).toBe(0);
  });

  it('needs a kernel', () => {
    const r = hv('-bios', 'hv');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/-bios hv needs a kernel/);
  });

  it('documents itself in the help', () => {
    expect(hv('--help').stdout).toMatch(/-bios FILE\|none\|hv/);
  });
});

describe('the S-mode guests run on QEMU with OpenSBI too', () => {
  // guests/expected/enlightened/NAME.out: the guest's lines on QEMU 7.2 with
  // OpenSBI (guests/run-qemu.sh --update). OpenSBI picks its boot hart by
  // lottery and the harts' lines interleave differently: the lines are
  // compared sorted, with hart ids left out.
  it.each(['sbi-smp', 'sbi-timer'])('%s prints the same lines on hv as on QEMU (OpenSBI)', async (name) => {
    const ours = await runEnlightened(name, { harts: 2 });
    const lines = ours.output.replace(/hart \d+/g, 'hart N').split('\n').filter((l) => l !== '');
    const theirs = readFileSync(`guests/expected/enlightened/${name}.out`, 'latin1').split('\n').filter((l) => l !== '');
    expect(lines.sort()).toEqual(theirs.sort());
  });
});

