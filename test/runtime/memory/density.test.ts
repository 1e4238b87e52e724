// Density (issue 11): 1,000 small partitions at once on one threaded host
// with two pCPU threads, every one of them making progress, each costing
// the host at most 256 KiB beyond the frames its guest RAM holds after
// page sharing. `npm run bench -- density` prints the same figures, with
// the time to start them and a full sharing scan.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Host } from '../../../runtime/host/host.ts';
import { checkHost, partitionSpec, type PagingMode } from '../../../runtime/host/spec.ts';
import { allTicked, densityFigures, OVERHEAD_TARGET, startTickers, TICKER, tickerPool, ticks, type Tickers } from '../../support/density.ts';

const COUNT = 1000;
const RAM = 256 << 10;

describe('1,000 partitions on one host', () => {
  it.each(['direct', 'nested', 'shadow'] as PagingMode[])('fit one host spec with %s paging (a small partition reserves little beyond its RAM)', (paging) => {
    const partitions = Array.from({ length: COUNT }, (_, i) => partitionSpec(`t${i}`, 'k.elf', { memory: RAM, paging }));
    expect(() => checkHost({ partitions })).not.toThrow();
  });

  let host: Host;
  let run: Tickers;
  beforeAll(async () => {
    host = await Host.start({ pcpus: 2, memoryBytes: tickerPool(COUNT, RAM) });
    run = await startTickers(host, COUNT, RAM);
  });
  afterAll(() => host?.close());

  it('all run at once on two pCPUs, each ticking with no tick lost or repeated', async () => {
    await allTicked(run.out, 3);
    // Every one ticked three times and none has finished: they were all alive together.
    const states = (await host.list()).map((p) => p.state);
    expect(states.filter((s) => s === 'running')).toHaveLength(COUNT);
    const bad = run.out.filter((s) => !ticks(s.length).startsWith(s) || s.length < 3);
    expect(bad).toEqual([]);
  });

  it('costs the host at most 256 KiB per partition beyond its guest RAM, and less than its RAM in all with sharing', async () => {
    const after = await host.hostMemory();
    const f = densityFigures(run.before, after, COUNT);
    expect(f.overhead).toBeLessThanOrEqual(OVERHEAD_TARGET);
    expect(f.overhead).toBeGreaterThan(16 << 10); // at least its vCPU block: the figures count something
    // Demand-allocated RAM and the group's shared pages (the scanner merged some by now; all after a full scan, bench).
    expect(f.total).toBeLessThan(RAM);
    expect(after.sharing.bytesSaved).toBeGreaterThan(0);
  });
});

describe('1,000 partitions on the kernel scheduler in deterministic mode', () => {
  it('every one ticks exactly as far as its steps allow (hv run --config, --deterministic --pcpus 2)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hv-density-'));
    const config = join(dir, 'vm.json');
    const partitions = Array.from({ length: COUNT }, (_, i) => ({ name: `t${i}`, kernel: resolve(TICKER), memory: RAM, paging: 'nested', overcommit: { salt: 1 } }));
    writeFileSync(config, JSON.stringify({ pcpus: 2, partitions }));
    // 4e8 steps: 0.4 s of each guest's clock, three ticks of 100 ms and the instructions between them.
    const r = spawnSync(process.execPath, ['bin/hv.js', 'run', '--config', config, '--deterministic', '--pcpus', '2', '--max-insns', '400000000'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(124); // every one stopped at the limit, none ended by itself
    expect(r.stdout).toBe(partitions.map((p) => `[${p.name.padEnd(4)}] ${ticks(3)}\n`).join(''));
  });
});
