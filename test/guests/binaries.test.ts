// The guest ELFs under guests/bin are committed beside their sources and
// guests/build.sh, which builds them reproducibly (no debug info, paths
// mapped, no build id). This holds the two together: the sources of HEAD,
// built in a directory of their own, give exactly the committed bytes. A
// binary not rebuilt after its source or a library it links changed (or one
// built from uncommitted edits) fails here, naming the file.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CC = `${process.env.CROSS ?? 'riscv64-unknown-elf-'}gcc`;
const haveCompiler = spawnSync(CC, ['--version'], { stdio: 'ignore' }).status === 0;
if (!haveCompiler) console.warn(`${CC} not found: skipping the guest rebuild check (Debian: gcc-riscv64-unknown-elf)`);

function elfs(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.elf'))
    .sort();
}

describe.skipIf(!haveCompiler)('committed guest binaries', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'hv-guests-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('are what guests/build.sh makes from the committed sources', () => {
    const src = join(tmp, 'guests');
    // HEAD's tree, not the working copy: a local edit must not pass for committed.
    execFileSync('sh', ['-c', `git archive HEAD guests | tar -x -C '${tmp}'`]);
    const committed = elfs(join(src, 'bin'));
    rmSync(join(src, 'bin'), { recursive: true });
    execFileSync('sh', [join(src, 'build.sh')], { stdio: 'pipe' });
    expect(elfs(join(src, 'bin'))).toEqual(committed);
    const stale = committed.filter((f) => {
      const head = execFileSync('git', ['show', `HEAD:guests/bin/${f}`], { maxBuffer: 64 << 20 });
      return Buffer.compare(head, readFileSync(join(src, 'bin', f))) !== 0;
    });
    expect(stale, 'ELFs that differ from a rebuild of their sources (run guests/build.sh and commit them)').toEqual([]);
  }, 180_000);
});
