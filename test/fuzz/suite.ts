// The fuzz suite's plan: which case kinds run, how many of each and how
// large, for CI (fixed seeds, bounded: test/fuzz/fuzz.test.ts) and for a
// longer run before a release (`npm run fuzz -- --minutes N`, main.ts).
import { cliCase, configCase, elfCase, FuzzFailure, guestCase, threadedCase, vhdCase, type CaseOutcome } from './cases.ts';
import { Rng } from './random.ts';

export interface Kind {
  name: string;
  /** Cases in the CI run. */
  ci: number;
  run(rng: Rng, scale: 'ci' | 'long'): Promise<CaseOutcome>;
}

export const KINDS: Kind[] = [
  ...(['direct', 'nested', 'shadow'] as const).flatMap((paging) =>
    (['random', 'biased'] as const).map(
      (code): Kind => ({
        name: `guest ${code} ${paging}`,
        ci: 200,
        run: (rng, scale) => guestCase(rng, code, paging, scale === 'ci' ? 200_000 : rng.pick([100_000, 1_000_000, 5_000_000])),
      }),
    ),
  ),
  { name: 'guest threaded', ci: 4, run: (rng, scale) => threadedCase(rng, scale === 'ci' ? 6 : 10, scale === 'ci' ? 300 : 1000) },
  { name: 'elf', ci: 1000, run: (rng) => elfCase(rng) },
  { name: 'vhd', ci: 300, run: (rng) => vhdCase(rng) },
  { name: 'config', ci: 2000, run: (rng) => configCase(rng) },
  { name: 'cli', ci: 30, run: (rng) => cliCase(rng) },
];

export interface Tally {
  cases: number;
  steps: number;
  failures: string[];
}

/** Case `index` of `kind` under `seed`: its own generator, so any case can be run again alone. */
export function caseRng(seed: number, kind: Kind, index: number): Rng {
  let h = seed >>> 0;
  for (const c of kind.name) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return new Rng((h + Math.imul(index, 0x9e3779b1)) >>> 0);
}

/** Runs cases [from, to) of `kind`, adding to `tally`; stops early at `deadline` (performance.now() ms). */
export async function runKind(kind: Kind, seed: number, from: number, to: number, scale: 'ci' | 'long', tally: Tally, deadline = Infinity): Promise<void> {
  for (let i = from; i < to && performance.now() < deadline; i++) {
    const rng = caseRng(seed, kind, i);
    tally.cases++;
    try {
      tally.steps += (await kind.run(rng, scale)).steps;
    } catch (e) {
      const msg = e instanceof FuzzFailure ? e.message : `unexpected: ${(e as Error)?.stack ?? e}`;
      tally.failures.push(`${kind.name} #${i} (seed ${seed}, case seed ${rng.seed}): ${msg}`);
    }
  }
}
