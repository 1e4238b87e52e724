// Save/restore of two guests talking through the virtual switch
// (vmbus-ping and vmbus-pong, deterministic host, icount clocks). A save
// file holds one partition, but these two are one system: a frame crosses
// the switch inside the sender's exit and lands in the receiver's RAM, so
// one of them restored beside a fresh peer (or a peer that ran on) would
// see a conversation the other never had. What is meaningful, and tested,
// is saving both at the same point of the run (the same round of the
// round-robin, the pinging partition stopped inside its slice at an
// arbitrary step and its peer before its turn in that round), restoring
// both on a fresh host (a new switch), and running on: each console then
// prints exactly what the uninterrupted run printed, each ends with the
// same RAM, and the switch's counters per port come back with their NICs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Hypervisor } from '../../runtime/host/hypervisor.ts';
import { readVmConfig } from '../../runtime/config/vm-config.ts';
import type { Machine } from '../../runtime/machine/machine.ts';
import { hostSwitch, setupPartition, specHostBytes } from '../../runtime/machine/setup.ts';
import { readSave, restorePartition, savePartition } from '../../runtime/persist/partition.ts';

const CONFIG = 'guests/enlightened/vmbus-net.json';
const dir = mkdtempSync(join(tmpdir(), 'hv-vmbus-net-save-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const { partitions: specs } = readVmConfig(CONFIG);
const newHost = () => new Hypervisor(specs.reduce((n, s) => n + specHostBytes(s), 0));
const portsWithoutLearning = (hv: Hypervisor) => hostSwitch(hv).list().map(({ learned: _, ...p }) => p);

/** Both guests on a fresh host with icount clocks; `out` collects each one's console. */
function start(hv: Hypervisor, out: string[]): Machine[] {
  return specs.map((spec, i) => setupPartition(spec, hv, { clock: 'icount', onConsole: (b) => (out[i] += Buffer.from(b).toString('latin1')) }).machine);
}

describe('two guests on the virtual switch, saved and restored together', () => {
  it.each([150_007, 420_011, 700_001, 880_003])('run on exactly as if uninterrupted when saved with ping at step %i', async (at) => {
    const whole = newHost();
    const a = ['', ''];
    const ma = start(whole, a);
    await whole.run({ timeoutMs: 120_000 });
    for (const m of ma) expect(m.result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });

    // ping (first in the round) stops at step `at`; pong stops before its turn in that round.
    const first = newHost();
    const b = ['', ''];
    const [ping, pong] = start(first, b) as [Machine, Machine];
    ping.limit(at);
    const afterRound = ping.afterRound.bind(ping);
    ping.afterRound = (ran) => {
      afterRound(ran);
      if (ping.result?.kind === 'insn-limit') pong.limit(pong.steps());
    };
    await first.run({ timeoutMs: 120_000 });
    expect(ping.result).toEqual({ kind: 'insn-limit' });
    expect(pong.result).toEqual({ kind: 'insn-limit' });
    expect(ping.steps()).toBe(at);
    const ports = portsWithoutLearning(first);
    const files = [ping, pong].map((m, i) => {
      const path = join(dir, `${specs[i]!.name}-${at}.hvs`);
      savePartition(path, m, specs[i]!, () => {});
      return path;
    });

    const second = newHost();
    const c = ['', ''];
    const restored = files.map((f, i) => restorePartition(readSave(f), second, { clock: 'icount', onConsole: (bytes) => (c[i] += Buffer.from(bytes).toString('latin1')) }).machine);
    // The ports come back with their MACs and counters; what they had learned is learned again.
    expect(portsWithoutLearning(second)).toEqual(ports);
    await second.run({ timeoutMs: 120_000 });
    for (const m of restored) expect(m.result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    expect(b[0]! + c[0]!).toBe(a[0]);
    expect(b[1]! + c[1]!).toBe(a[1]);
    expect(portsWithoutLearning(second)).toEqual(portsWithoutLearning(whole));
    // And they end in the same state: steps taken and every byte of RAM (rings, receive sections and all).
    restored.forEach((m, i) => {
      expect(m.steps()).toBe(ma[i]!.steps());
      expect(Buffer.compare(m.ram, ma[i]!.ram)).toBe(0);
    });
  });

  it('is refused when the NIC in the save has another MAC than the partition it is restored into', async () => {
    const hv = newHost();
    const out = ['', ''];
    const [ping] = start(hv, out) as [Machine, Machine];
    ping.limit(300_001);
    await hv.run({ timeoutMs: 120_000 });
    const path = join(dir, 'ping-mac.hvs');
    savePartition(path, ping, specs[0]!, () => {});
    const save = readSave(path);
    const other = { ...save, spec: { ...save.spec, nics: [{ mac: '52:54:00:00:00:09' }] } };
    expect(() => restorePartition(other, newHost(), { clock: 'icount', onConsole: () => {} })).toThrow(/vmbus\.netvsc\.port\.mac: is 00:15:5d:82:e9:46/);
  });
});
