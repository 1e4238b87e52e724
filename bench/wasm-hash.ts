// The same wasm microbenchmark in both engines (bench browser): kernel.wasm's
// hashFrames, the page-sharing scanner's hash (kernel/mm/hash.ts), over
// 16 MiB of host memory, best of several passes. Pure wasm compute: no
// import is called, no thread or clock is involved, so Chromium against
// Node here is V8 against V8 on our code.
//
// hashBench is passed to the page as source text (page.evaluate), so it
// stands alone: it instantiates the module with imports that are never
// called and the same shared memory the host gives the kernel.

/** Best GB/s of hashFrames over `mib` MiB from the frame pool, over `passes` passes. */
export function hashBench(module: WebAssembly.Module, mib: number, passes: number): number {
  const never = () => {
    throw new Error('hashFrames called an import');
  };
  const memory = new WebAssembly.Memory({ initial: 512 + mib * 16, maximum: 65536, shared: true });
  const table = new WebAssembly.Table({ element: 'anyfunc', initial: 1024 + 4096 });
  const env = { memory, table, jitCompile: never, jitPoll: never, mmioRead: never, mmioWrite: never, hostClock: never, abort: never };
  const ex = new WebAssembly.Instance(module, { env }).exports as Record<string, unknown>;
  const pool = (ex.LAYOUT_FRAME_POOL as WebAssembly.Global).value as number; // below 32 MiB (HOST_KERNEL_BYTES)
  const hash = ex.hashFrames as (host: number, count: number) => number;
  const pages = (mib << 20) / 4096;
  new Uint8Array(memory.buffer, pool, mib << 20).forEach((_, i, a) => (a[i] = (i * 2654435761) >>> 24));
  let best = Infinity;
  for (let i = 0; i < passes; i++) {
    const t0 = performance.now();
    hash(pool, pages);
    best = Math.min(best, performance.now() - t0);
  }
  return (mib << 20) / best / 1e6;
}
