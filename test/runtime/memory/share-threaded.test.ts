// Page sharing on the threaded host: the root partition's thread scans and
// merges while the partitions' vCPUs run on two pCPU threads; each guest
// then writes a page it shares with the other partition (a copy-on-write
// break on its own pCPU) and keeps checking every page: neither ever sees
// the other's write, and every page keeps its contents. HostController
// stats show the sharing, and balloon() answers without a balloon device.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlError } from '../../../runtime/host/controller.ts';
import { Host } from '../../../runtime/host/host.ts';
import { partitionSpec } from '../../../runtime/host/spec.ts';
import { code, elf, rv } from '../../support/rv.ts';

const PAGE = 4096;
const [T0, T1, T2, T3, T4, T5, S1, S2, S3] = [5, 6, 7, 28, 29, 30, 9, 18, 19];
// Pages 10..29 (20 x 512 words, word i holds i); word 0 of page 15
// (word 2560) is the one each guest writes.

/** A tiny assembler: words, or (pc) => word for branches to labels. */
function assemble(lines: (number | string | ((at: (l: string) => number, pc: number) => number))[]): Uint8Array {
  const labels = new Map<string, number>();
  let pc = 0;
  for (const l of lines) typeof l === 'string' ? labels.set(l, pc) : (pc += 4);
  const at = (l: string) => labels.get(l)!;
  const words: number[] = [];
  pc = 0;
  for (const l of lines) {
    if (typeof l === 'string') continue;
    words.push(typeof l === 'number' ? l : l(at, pc));
    pc += 4;
  }
  return code(words);
}
const bne = (a: number, b: number, l: string) => (at: (l: string) => number, pc: number) => rv.bne(a, b, at(l) - pc);
const beq = (a: number, b: number, l: string) => (at: (l: string) => number, pc: number) => rv.beq(a, b, at(l) - pc);
const jmp = (l: string) => (at: (l: string) => number, pc: number) => rv.jal(0, at(l) - pc);

/** Fills pages 10..29, checks them `rounds` times, writes `mine` into page 15, checks `rounds` times more, passes. */
function guest(mine: number, rounds: number): Uint8Array {
  const check = (tag: string, skipMine: boolean) => [
    rv.addi(S1, 0, rounds),
    `${tag}_round`,
    rv.addi(T1, 0, 0),
    `${tag}_word`,
    ...(skipMine ? [beq(T1, S3, `${tag}_next`)] : []),
    rv.slli(T4, T1, 3), rv.add(T4, T4, T0), rv.ld(T5, T4, 0), bne(T5, T1, 'fail'),
    `${tag}_next`,
    rv.addi(T1, T1, 1), bne(T1, T3, `${tag}_word`),
    ...(skipMine ? [rv.ld(T5, S2, 0), bne(T5, T2, 'fail')] : []),
    rv.addi(S1, S1, -1), bne(S1, 0, `${tag}_round`),
  ];
  const body = assemble([
    // t0 = RAM + 10 pages (auipc: pc-relative from 0x8000_0000), t3 = WORDS, s3 = MINE, s2 = &word MINE
    rv.auipc(T0, 10),
    rv.lui(T3, 3), rv.addi(T3, T3, -2048),
    rv.lui(S3, 1), rv.addi(S3, S3, -1536),
    rv.slli(S2, S3, 3), rv.add(S2, S2, T0),
    rv.addi(T1, 0, 0),
    'fill',
    rv.slli(T4, T1, 3), rv.add(T4, T4, T0), rv.sd(T1, T4, 0), rv.addi(T1, T1, 1), bne(T1, T3, 'fill'),
    ...check('a', false),
    rv.addi(T2, 0, mine), rv.sd(T2, S2, 0),
    ...check('b', true),
    rv.lui(T4, 0x100), rv.lui(T5, 5), rv.addi(T5, T5, 0x555), rv.sw(T5, T4, 0), // finisher: pass
    'spin', jmp('spin'),
    'fail',
    rv.lui(T4, 0x100), rv.lui(T5, 0x13), rv.addi(T5, T5, 0x333), rv.sw(T5, T4, 0), // finisher: fail, code 1
    jmp('fail'),
  ]);
  return elf(body);
}

describe('page sharing on the threaded host', () => {
  let host: Host;
  let dir: string;
  beforeAll(async () => {
    host = await Host.start({ pcpus: 2, memoryBytes: 64 << 20 });
    dir = mkdtempSync(join(tmpdir(), 'hv-share-'));
  });
  afterAll(async () => {
    await host?.close();
  });

  it.each(['nested', 'shadow'] as const)(
    "two partitions of one salt share pages across pCPU threads and never see each other's writes (%s)",
    async (paging) => {
      const ids: number[] = [];
      for (const [name, mine] of [['a', 0x111], ['b', 0x222]] as const) {
        const path = join(dir, `${name}-${paging}.elf`);
        writeFileSync(path, guest(mine, 600));
        const id = await host.create(partitionSpec(`${name}-${paging}`, path, { memory: 64 * PAGE, paging, overcommit: { salt: 9 } }));
        ids.push(id);
      }
      for (const id of ids) await host.start(id);
      for (const id of ids) expect(await host.wait(id)).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
      const stats = await Promise.all(ids.map((id) => host.stats(id)));
      const mem = stats.map((s) => s.totals.memory!);
      // The scanner merged the two guests' identical pages (and the zero pages) while they ran.
      expect(mem[0]!.host.merges).toBeGreaterThan(20);
      // Each guest's write to page 15 broke sharing on its own pCPU (and its
      // fill broke the zero pages the scanner may have merged before);
      // the 19 other filled pages are still shared at the end.
      for (const m of mem) {
        expect(m.pages.cowBreaks).toBeGreaterThanOrEqual(1);
        expect(m.pages.shared).toBeGreaterThanOrEqual(19);
      }
      await expect(host.balloon(ids[0]!, 32 * PAGE)).rejects.toThrow(/no balloon device/);
      for (const id of ids) await host.destroy(id);
    },
    120_000,
  );

  it('balloon() refuses a partition without overcommit', async () => {
    const path = join(dir, 'plain.elf');
    writeFileSync(path, guest(0x333, 1));
    const id = await host.create(partitionSpec('plain', path, { memory: 64 * PAGE }));
    await expect(host.balloon(id, 32 * PAGE)).rejects.toThrow(ControlError);
    await host.destroy(id);
  });
});
