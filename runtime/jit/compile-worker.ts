// The compile thread's script (compile-thread.ts): each batch of requests
// posted to it becomes one module of the regions translated (translate.ts),
// compiled here and posted back.
import { workerData } from 'node:worker_threads';
import type { CompiledBatch, CompileRequest, CompileWorkerData } from './compile-thread.ts';
import { regionModule, type Region, Translator } from './translate.ts';

const d = workerData as CompileWorkerData;
const translator = new Translator(d.memory, d.rvcTable, d.off);

d.port.on('message', (requests: CompileRequest[]) => {
  const t0 = performance.now();
  const regions: Region[] = [];
  const index = requests.map((r) => {
    const region = translator.translate(r.frame, r.pc);
    if (!region) return -1;
    regions.push(region);
    return regions.length - 1;
  });
  const bytes = regions.length ? regionModule(regions) : undefined;
  const module = bytes && new WebAssembly.Module(bytes as BufferSource);
  const answer: CompiledBatch = { requests, index, module, bytes: bytes?.length ?? 0, micros: Math.round((performance.now() - t0) * 1000) };
  d.port.postMessage(answer);
});
