// The host's half of the JIT tier, one per kernel instance (thread): the
// function table the kernel calls translations through, and the `jitCompile`
// import the kernel asks for a region with (kernel/jit/dispatch.ts).
//
// With --jit always a region is translated (translate.ts), compiled and put
// at the slot the kernel chose at once. With --jit on requests are queued
// and the vCPU goes on interpreting; a batch of them becomes one module
// (compiling and instantiating one module of 32 functions costs a fraction
// of 32 modules: docs/jit.md) once it is full, or at the host loop's next
// poll() after the oldest request has waited BATCH_WAIT_MS. The batch is
// translated and compiled on the compile thread (compile-thread.ts) where
// there is one, else here; the module is instantiated on this thread and
// each function installed if its slot still waits for it (jitInstall).
import { type CompiledBatch, type CompileRequest, type CompileThread, startCompileThread } from './compile-thread.ts';
import { regionModule, Translator, type HartOffsets, type Region } from './translate.ts';

export type JitMode = 'off' | 'on' | 'always';
export const JIT_MODES: readonly JitMode[] = ['off', 'on', 'always'];

/**
 * The mode when none is given: HV_JIT=off|on|always in the environment, else
 * off. It lets the whole test suite run with the JIT forced on
 * (`HV_JIT=always npx vitest run`, docs/jit.md) without every test naming
 * it; an explicit mode (--jit, setJit, HostOptions.jit) wins.
 */
export function defaultJitMode(): JitMode {
  const v = typeof process === 'undefined' ? undefined : process.env.HV_JIT;
  if (v === undefined || v === '') return 'off';
  if (!(JIT_MODES as readonly string[]).includes(v)) throw new Error(`HV_JIT takes off, on or always, not '${v}'`);
  return v as JitMode;
}

/**
 * Index of slot 0 in the table: the kernel's own functions (none today;
 * AssemblyScript puts function pointers at 1..) stay below it.
 */
const TABLE_BASE = 1024;
/** kernel/jit/dispatch.ts JIT_SLOTS (checked against the export in attach). */
const SLOTS = 4096;
/** Block entries before a region is translated with --jit on. */
export const JIT_THRESHOLD = 8000;
/** Requests compiled together as one module (--jit on). */
const BATCH = 32;
/** How long the first request of a batch that is not full waits for more (ms). */
const BATCH_WAIT_MS = 4;
/** jitCompile's answers (kernel/jit/dispatch.ts COMPILE_*). */
const COMPILE_NONE = 0, COMPILE_READY = 1, COMPILE_QUEUED = 2;

/** JIT_STATE fields (kernel/jit/code.ts), as u64 indexes from it. */
const S_COMPILED = 1, S_COMPILE_US = 2, S_BYTES = 3, S_INVALIDATIONS = 4, S_FLUSHES = 5, S_ENTRIES = 6, S_INSNS = 7;
/** Where they are: kernel/layout.ts JIT_STATE (checked against the kernel's export in attach). */
export const JIT_STATE_ADDR = 0x0010_0040;

/**
 * Frame-pool bytes the JIT takes on a host of `memoryBytes` with `threads`
 * kernel instances: the generation array (4 bytes per host frame) and an
 * entry table per thread (JIT_SLOTS x 32 bytes).
 */
export function jitHostBytes(memoryBytes: number, threads: number): number {
  const page = (n: number) => Math.ceil(n / 4096) * 4096;
  return page(memoryBytes / 1024) + threads * SLOTS * 32 + 4096;
}

export interface JitKernel {
  jitSetMode(mode: number, threshold: number, base: number): void;
  /** kernel/jit/helpers.ts, imported by every region (translate.ts REGION_IMPORTS). */
  jitFp(insn: number): number;
  jitRangeWritten(host: number, length: number): void;
  jitInstall(slot: number, pc: bigint, frame: number, ticket: number, ok: number): number;
  JIT_SLOTS: WebAssembly.Global | number;
}

export interface JitStats {
  regionsCompiled: number;
  compileMs: number;
  bytes: number;
  invalidations: number;
  flushes: number;
  entries: number;
  /** Instructions retired in translated code. */
  instructions: number;
}

export class JitTier {
  readonly table = new WebAssembly.Table({ element: 'anyfunc', initial: TABLE_BASE + SLOTS });
  private translator: Translator | undefined;
  private stats: BigInt64Array | undefined;
  private kernel: JitKernel | undefined;

  constructor(private readonly memory: WebAssembly.Memory) {}

  /** After instantiation: where the kernel keeps what the translator reads. */
  attach(kernel: JitKernel, rvcTable: number, jitState: number, off: HartOffsets): void {
    const slots = typeof kernel.JIT_SLOTS === 'number' ? kernel.JIT_SLOTS : (kernel.JIT_SLOTS.value as number);
    if (slots !== SLOTS) throw new Error(`kernel JIT_SLOTS ${slots} != host ${SLOTS}`);
    if (jitState !== JIT_STATE_ADDR) throw new Error(`kernel JIT_STATE ${jitState} != host ${JIT_STATE_ADDR}`);
    this.kernel = kernel;
    this.translator = new Translator(this.memory, rvcTable, off);
    this.where = { rvcTable, off };
    this.stats = new BigInt64Array(this.memory.buffer, jitState, 8);
    this.jitState = jitState;
    const mode = defaultJitMode();
    if (mode !== 'off') this.setMode(mode);
  }

  private jitState = 0;

  /** The host-wide counters (every thread's translations). */
  counters(): JitStats {
    return readJitStats(this.memory, this.jitState);
  }

  /**
   * The host wrote [host, host + length) (device DMA, loaders): translations
   * of code there become stale on every thread (the frames' generations).
   */
  codeWritten(host: number, length: number): void {
    this.kernel!.jitRangeWritten(host, length);
  }

  /** Translate requests at once (--jit always) rather than queue them. */
  private immediate = false;
  private queue: CompileRequest[] = [];
  private queuedAt = 0;
  /** What the compile thread needs (attach). */
  private where: { rvcTable: number; off: HartOffsets } | undefined;
  /** Started at the first batch; null where there is none (compile here). */
  private thread: CompileThread | null | undefined;

  /** Sets this instance's mode (its tables come from the frame pool at the first entry: jitHostBytes). */
  setMode(mode: JitMode, threshold = JIT_THRESHOLD): void {
    this.immediate = mode === 'always';
    this.kernel!.jitSetMode(JIT_MODES.indexOf(mode), threshold, TABLE_BASE);
  }

  /**
   * The kernel's import: the region at `pc` (code in host frame `frame`)
   * is wanted in `slot` (`now`: it has stayed hot while queued, compile it
   * at once). Answers COMPILE_READY (in the table now),
   * COMPILE_NONE (nothing there is translated) or COMPILE_QUEUED.
   */
  readonly compile = (slot: number, pc: bigint, frame: number, ticket: number, now: number): number => {
    const request = { slot, pc: BigInt.asUintN(64, pc), frame, ticket };
    if (this.immediate) return this.compileHere([], request) ? COMPILE_READY : COMPILE_NONE;
    if (now) {
      // Still hot while pending: compiled here with what is queued (a batch
      // anyway). Its request sent to the thread, if any, finds the slot
      // ready when it comes back and is dropped (jitInstall).
      const batch = this.queue.filter((r) => r.slot !== slot);
      this.queue = [];
      return this.compileHere(batch, request) ? COMPILE_READY : COMPILE_NONE;
    }
    if (!this.queue.length) this.queuedAt = performance.now();
    this.queue.push(request);
    if (this.queue.length < BATCH) return COMPILE_QUEUED;
    if (this.compileThread()) {
      this.sendQueue();
      return COMPILE_QUEUED;
    }
    // Compiled on this thread: the request completing the batch is answered
    // here, as its entry is not pending yet (jitInstall would refuse it).
    const batch = this.queue;
    this.queue = [];
    batch.pop();
    return this.compileHere(batch, request) ? COMPILE_READY : COMPILE_NONE;
  };

  /**
   * Called by the host's loop between runs of the kernel: installs what
   * the compile thread finished, and sends (or compiles) the queue once its
   * oldest request has waited BATCH_WAIT_MS, so a region that got hot does
   * not wait for a batch to fill.
   */
  readonly poll = (): void => {
    if (this.thread) for (let b = this.thread.take(); b; b = this.thread.take()) this.install(b);
    if (this.queue.length && performance.now() - this.queuedAt >= BATCH_WAIT_MS) {
      if (this.compileThread()) this.sendQueue();
      else {
        const batch = this.queue;
        this.queue = [];
        this.compileHere(batch);
      }
    }
  };

  private compileThread(): CompileThread | null {
    if (this.thread === undefined) this.thread = startCompileThread(this, this.memory, this.where!.rvcTable, this.where!.off) ?? null;
    return this.thread;
  }

  private sendQueue(): void {
    this.thread!.post(this.queue);
    this.queue = [];
  }

  /**
   * Translates and compiles `queued` and `current` (the request being
   * answered) on this thread and installs them; true if `current` was
   * translated.
   */
  private compileHere(queued: CompileRequest[], current?: CompileRequest): boolean {
    const t0 = performance.now();
    const requests = current ? [...queued, current] : queued;
    const regions: Region[] = [];
    const index = requests.map((r) => {
      const region = this.translator!.translate(r.frame, r.pc);
      if (!region) return -1;
      regions.push(region);
      return regions.length - 1;
    });
    const bytes = regions.length ? regionModule(regions) : undefined;
    const module = bytes && new WebAssembly.Module(bytes as BufferSource);
    const micros = Math.round((performance.now() - t0) * 1000);
    return this.install({ requests, index, module, bytes: bytes?.length ?? 0, micros }, current);
  }

  /**
   * Instantiates a compiled batch and puts each function in its slot if the
   * slot still waits for it (`current`: the request being answered, not
   * pending yet, installed unconditionally); true if `current` was translated.
   */
  private install(b: CompiledBatch, current?: CompileRequest): boolean {
    const t0 = performance.now();
    const exports = b.module && new WebAssembly.Instance(b.module, { env: { memory: this.memory, fp: this.kernel!.jitFp } }).exports;
    let currentMade = false;
    b.requests.forEach((r, i) => {
      const f = b.index[i]!;
      if (r === current) currentMade = f >= 0;
      else if (!this.kernel!.jitInstall(r.slot, r.pc, r.frame, r.ticket, f >= 0 ? 1 : 0)) return;
      if (f >= 0) this.table.set(TABLE_BASE + r.slot, exports![`f${f}`] as WebAssembly.ExportValue as never);
    });
    const s = this.stats!;
    Atomics.add(s, S_COMPILED, BigInt(b.index.filter((f) => f >= 0).length));
    Atomics.add(s, S_BYTES, BigInt(b.bytes));
    Atomics.add(s, S_COMPILE_US, BigInt(b.micros + Math.round((performance.now() - t0) * 1000)));
    return currentMade;
  }
}

/** The host-wide counters in JIT_STATE (any thread's view of host memory). */
export function readJitStats(memory: WebAssembly.Memory, jitState: number): JitStats {
  const s = new BigInt64Array(memory.buffer, jitState, 8);
  const n = (i: number) => Number(Atomics.load(s, i));
  return {
    regionsCompiled: n(S_COMPILED),
    compileMs: n(S_COMPILE_US) / 1000,
    bytes: n(S_BYTES),
    invalidations: n(S_INVALIDATIONS),
    flushes: n(S_FLUSHES),
    entries: n(S_ENTRIES),
    instructions: n(S_INSNS),
  };
}

/** --stats lines of the JIT tier, for a run that retired `instructions` in all. */
export function printJitStats(memory: WebAssembly.Memory, instructions: number, prefix: string): void {
  const j = readJitStats(memory, JIT_STATE_ADDR);
  const share = instructions ? ((100 * j.instructions) / instructions).toFixed(1) : '0';
  process.stderr.write(
    `${prefix}JIT regions   ${j.regionsCompiled} compiled in ${j.compileMs.toFixed(1)} ms, ${j.bytes} bytes of wasm\n` +
      `${prefix}JIT share     ${share}% of instructions in translated code (${j.entries} entries)\n` +
      `${prefix}JIT drops     ${j.invalidations} stale after a write to their code, ${j.flushes} fence.i flushes\n`,
  );
}
