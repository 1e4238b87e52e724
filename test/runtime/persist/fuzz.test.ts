// Seeded fuzzing of save files below the checksums: records with fields set
// to hostile values (and their CRCs made right, as a forger would) are
// either refused with a PersistError or restored into a partition that then
// runs without a host error. A corrupt record never throws anything else,
// and never lets the kernel index outside a vCPU's own state.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../../runtime/host/hypervisor.ts';
import { partitionSpec } from '../../../runtime/host/spec.ts';
import { setupPartition, closeDisks } from '../../../runtime/machine/setup.ts';
import { parseContainer, writeContainer } from '../../../runtime/persist/container.ts';
import { PersistError } from '../../../runtime/persist/errors.ts';
import { readSave, restorePartition, savePartition } from '../../../runtime/persist/partition.ts';
import { decodeRecords, encodeRecords, type StateRecord } from '../../../runtime/persist/record.ts';

/** xorshift32: the same cases every run. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(a: readonly T[]) => a[Math.floor(next() * a.length)]! };
}

const HOSTILE: unknown[] = [-1, 0, 1, 255, 256, 2 ** 32, 2 ** 53, -(2 ** 31), 1.5, NaN, null, true, 'x', '18446744073709551615', '99999999999999999999999', [], {}, [1, 2, 3], Array(300).fill(7)];

function mutateJson(body: Uint8Array, r: ReturnType<typeof rng>): Uint8Array {
  const o = JSON.parse(Buffer.from(body).toString()) as Record<string, unknown>;
  const paths: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => (paths.push([v, i]), walk(x)));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (paths.push([v as Record<string, unknown>, k]), walk(x));
  };
  walk(o);
  if (paths.length === 0) return Buffer.from(JSON.stringify({ junk: r.pick(HOSTILE) }));
  const [parent, key] = r.pick(paths);
  (parent as Record<string | number, unknown>)[key] = r.pick(HOSTILE);
  return Buffer.from(JSON.stringify(o));
}

describe('save files forged below their checksums', () => {
  it('are refused with a PersistError or restore into a partition that runs: 300 seeded cases', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hv-save-fuzz-'));
    const good = join(dir, 'good.hvs');
    const spec = partitionSpec('fuzz', 'guests/bin/interrupts.elf', { memory: 1 << 20, vcpus: 2 });
    let hv = new Hypervisor(64 << 20);
    const made = setupPartition(spec, hv, { onConsole: () => {}, clock: 'icount' });
    await made.machine.run({ maxInsns: 30_000 });
    savePartition(good, made.machine, spec, () => closeDisks(made.disks));
    hv.unregister(made.machine.id);

    const sections = parseContainer(readFileSync(good));
    const records = decodeRecords(inflateRawSync(sections.get('STAT')!.payload), 'STAT');
    const r = rng(0x5eed);
    let refused = 0;
    for (let n = 0; n < 300; n++) {
      if (n % 100 === 99) hv = new Hypervisor(64 << 20); // partition ids are not reused
      const forged: StateRecord[] = records.map((x) => ({ ...x }));
      const victim = forged[r.int(forged.length)]!;
      if (victim.kind.startsWith('vcpu')) {
        const body = Buffer.from(victim.body);
        for (let k = 1 + r.int(4); k > 0; k--) body.writeUInt32LE(r.pick([0, 1, 0xffff_ffff, 0x8000_0000, r.int(2 ** 32)]), 4 + 4 * r.int((body.length - 4) / 4));
        victim.body = body;
      } else {
        victim.body = mutateJson(victim.body, r);
      }
      const path = join(dir, 'forged.hvs');
      writeContainer(path, [sections.get('META')!, { ...sections.get('STAT')!, payload: deflateRawSync(encodeRecords(forged)) }, sections.get('MEM ')!]);
      let restored;
      try {
        restored = restorePartition(readSave(path), hv, { onConsole: () => {}, clock: 'icount' });
      } catch (e) {
        if (!(e instanceof PersistError)) throw new Error(`case ${n} (${victim.kind}): ${(e as Error).stack}`);
        refused++;
        continue;
      }
      const m = restored.machine;
      await m.run({ maxInsns: m.steps() + 5_000 }); // whatever the guest makes of it: any result, no host error
      expect(m.result, `case ${n} (${victim.kind})`).toBeDefined();
      hv.unregister(m.id);
      hv.kernel.exports.framesFree(m.ramHostAddress, spec.memory / 4096);
    }
    expect(refused).toBeGreaterThan(50);
  });
});

describe('a forged vCPU record', () => {
  it('cannot announce more SBI console bytes than the ring holds, nor give Bare-mode slot 0 an address space', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hv-save-forge-'));
    const good = join(dir, 'good.hvs');
    const spec = partitionSpec('forge', 'guests/bin/enlightened/sbi-hello.elf', { memory: 4 << 20, boot: 'enlightened' });
    const hv = new Hypervisor(64 << 20);
    const made = setupPartition(spec, hv, { onConsole: () => {}, clock: 'icount' });
    await made.machine.run({ maxInsns: 2_000 });
    savePartition(good, made.machine, spec, () => closeDisks(made.disks));
    const off = hv.kernel.layout.off;
    const sections = parseContainer(readFileSync(good));
    const forge = (offset: number, value: number): string => {
      const records = decodeRecords(inflateRawSync(sections.get('STAT')!.payload), 'STAT');
      const v = records.find((x) => x.kind === 'vcpu0')!;
      const body = Buffer.from(v.body);
      body.writeUInt32LE(value, 4 + offset);
      v.body = body;
      const path = join(dir, `forged-${offset}.hvs`);
      writeContainer(path, [sections.get('META')!, { ...sections.get('STAT')!, payload: deflateRawSync(encodeRecords(records)) }, sections.get('MEM ')!]);
      return path;
    };
    const restore = (path: string) => () => restorePartition(readSave(path), hv, { onConsole: () => {}, clock: 'icount' });
    // Draining 4 GiB of "console bytes" would hang the host.
    expect(restore(forge(off.CONS_TAIL!, 0xffff_fff0))).toThrow(/vcpu0\.cons_tail: the SBI console ring holds \d+ bytes/);
    expect(restore(forge(off.TLB_CTX!, 0x8000_0))).toThrow(/vcpu0\.tlb_ctx: slot 0/);
  });
});
