// The fuzz suite, bounded for CI: fixed seeds, a fixed number of cases of
// each kind (test/fuzz/suite.ts). `npm run fuzz -- --minutes N` runs the
// same cases, larger and for longer.
import { afterAll, describe, expect, it } from 'vitest';
import { KINDS, runKind, type Tally } from './suite.ts';

const SEED = 15;

describe('fuzz (CI: seeded and bounded)', () => {
  const total = { cases: 0, steps: 0 };
  afterAll(() => {
    process.stdout.write(`fuzz (CI, seed ${SEED}): ${total.cases} cases, ${total.steps} guest steps\n`);
  });

  it.each(KINDS.map((k) => [k.name, k] as const))('%s: every case ends within its bound, cleanly', async (_, kind) => {
    const tally: Tally = { cases: 0, steps: 0, failures: [] };
    await runKind(kind, SEED, 0, kind.ci, 'ci', tally);
    total.cases += tally.cases;
    total.steps += tally.steps;
    expect(tally.failures).toEqual([]);
    expect(tally.cases).toBe(kind.ci);
  });
});
