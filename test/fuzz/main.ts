// `npm run fuzz -- --minutes N [--seed S]`: the fuzz suite's case kinds
// (suite.ts), larger than in CI, round robin until the time is up; prints
// the cases and guest steps each kind ran and every failure (with the seed
// that repeats it). Exit status 1 if anything failed.
import { KINDS, runKind, type Tally } from './suite.ts';

function option(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!(v > 0) || !Number.isFinite(v)) {
    process.stderr.write(`fuzz: --${name} wants a positive number, got '${process.argv[i + 1]}'\n`);
    process.exit(2);
  }
  return v;
}

const minutes = option('minutes', 5);
const seed = option('seed', Date.now() % 1_000_000);
const start = performance.now();
const deadline = start + minutes * 60_000;
const tallies = new Map(KINDS.map((k) => [k.name, { cases: 0, steps: 0, failures: [] } as Tally]));
process.stdout.write(`fuzz: ${minutes} min, seed ${seed} (repeat with --seed ${seed})\n`);
let lastReport = start;
for (let round = 0; performance.now() < deadline; round++) {
  for (const kind of KINDS) {
    // A round runs a tenth of each kind's CI count (at least one case).
    const n = Math.max(1, Math.round(kind.ci / 10));
    await runKind(kind, seed, round * n, round * n + n, 'long', tallies.get(kind.name)!, deadline);
    if (performance.now() - lastReport > 60_000) {
      lastReport = performance.now();
      const t = [...tallies.values()];
      process.stdout.write(
        `fuzz: ${((lastReport - start) / 60_000).toFixed(1)} min: ${t.reduce((a, b) => a + b.cases, 0)} cases, ` +
          `${t.reduce((a, b) => a + b.steps, 0).toExponential(2)} guest steps, ${t.reduce((a, b) => a + b.failures.length, 0)} failures\n`,
      );
    }
  }
}
const all = [...tallies.entries()];
const width = Math.max(...all.map(([k]) => k.length));
process.stdout.write(`\n${'kind'.padEnd(width)}  ${'cases'.padStart(8)}  ${'guest steps'.padStart(14)}  failures\n`);
for (const [name, t] of all) process.stdout.write(`${name.padEnd(width)}  ${String(t.cases).padStart(8)}  ${String(t.steps).padStart(14)}  ${t.failures.length}\n`);
const cases = all.reduce((n, [, t]) => n + t.cases, 0);
const steps = all.reduce((n, [, t]) => n + t.steps, 0);
const failures = all.flatMap(([, t]) => t.failures);
process.stdout.write(`\nfuzz: ${cases} cases, ${steps} guest steps (${steps.toExponential(2)}), ${failures.length} failures in ${((performance.now() - start) / 60_000).toFixed(1)} min (seed ${seed})\n`);
for (const f of failures) process.stdout.write(`FAIL ${f}\n`);
process.exit(failures.length ? 1 : 0);
