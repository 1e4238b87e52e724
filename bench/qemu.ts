// Reference runs of the same ELF on QEMU, for the ratios the benchmarks print.
import { spawnSync } from 'node:child_process';

export function qemuAvailable(): boolean {
  return spawnSync('qemu-system-riscv64', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Wall-clock seconds of `qemu-system-riscv64 -M virt` running `args` to completion. */
export function timeQemu(args: string[], timeoutMs = 120_000): { seconds: number; status: number | null; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync('qemu-system-riscv64', ['-M', 'virt', '-nographic', ...args], {
    encoding: 'latin1',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { seconds: (performance.now() - t0) / 1000, status: r.status, stdout: r.stdout };
}

/** Best (lowest) of n timings: the machine's noise only ever adds time. */
export function bestOf<T extends { seconds: number }>(n: number, f: () => T): T {
  let best: T | undefined;
  for (let i = 0; i < n; i++) {
    const r = f();
    if (!best || r.seconds < best.seconds) best = r;
  }
  return best!;
}
