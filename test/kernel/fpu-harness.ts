// Shared machinery of the F/D tests: builds the AS test entry
// (fpu.as.ts) to wasm, builds and runs the reference generators, and
// compares results.
//
//   fpu-ref.c   the host FPU under <fenv.h>, rounding modes RNE..RUP
//   fpu-rmm.py  exact rational arithmetic, every mode (RMM has no x86 twin)
//
// Both write records of five little-endian u64: a, b, c, result, fflags.

import asc from 'assemblyscript/asc';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const here = import.meta.dirname;

/** Operation numbers: FMT * 32 + BASE (shared with fpu-ref.c, fpu.as.ts). */
export const Base = {
  ADD: 0, SUB: 1, MUL: 2, DIV: 3, SQRT: 4, MADD: 5, MSUB: 6, NMSUB: 7, NMADD: 8,
  MIN: 9, MAX: 10, EQ: 11, LT: 12, LE: 13, CLASS: 14, CVT: 15,
  TO_W: 16, TO_WU: 17, TO_L: 18, TO_LU: 19, FROM_W: 20, FROM_WU: 21, FROM_L: 22, FROM_LU: 23,
} as const;
export const S = 0;
export const D = 32;
export const RM_NAMES = ['RNE', 'RTZ', 'RDN', 'RUP', 'RMM'];
export const FLAG = { NV: 0x10, DZ: 0x08, OF: 0x04, UF: 0x02, NX: 0x01 };

const MNEMONIC: Record<number, string> = {
  0: 'fadd', 1: 'fsub', 2: 'fmul', 3: 'fdiv', 4: 'fsqrt', 5: 'fmadd', 6: 'fmsub', 7: 'fnmsub',
  8: 'fnmadd', 9: 'fmin', 10: 'fmax', 11: 'feq', 12: 'flt', 13: 'fle', 14: 'fclass', 15: 'fcvt',
  16: 'fcvt.w', 17: 'fcvt.wu', 18: 'fcvt.l', 19: 'fcvt.lu', 20: 'fcvt.*.w', 21: 'fcvt.*.wu',
  22: 'fcvt.*.l', 23: 'fcvt.*.lu',
};

/** The RISC-V mnemonic of an operation number, e.g. "fadd.d", "fcvt.s.d". */
export function opName(op: number): string {
  const base = op & 31;
  const f = op >= 32 ? 'd' : 's';
  if (base === Base.CVT) return op >= 32 ? 'fcvt.s.d' : 'fcvt.d.s';
  if (base >= Base.FROM_W) return MNEMONIC[base].replace('*', f);
  return `${MNEMONIC[base]}.${f}`;
}

/** Format (bits) of the result: 32, 64, or 0 for an integer result. */
function resultFormat(op: number): number {
  const base = op & 31;
  if (base >= Base.EQ && base <= Base.CLASS) return 0;
  if (base >= Base.TO_W && base <= Base.TO_LU) return 0;
  if (base === Base.CVT) return op >= 32 ? 32 : 64;
  return op >= 32 ? 64 : 32;
}

export const CANON32 = 0x7fc00000n;
export const CANON64 = 0x7ff8000000000000n;

function isNaNBits(v: bigint, bits: number): boolean {
  return bits === 32 ? (v & 0x7fffffffn) > 0x7f800000n : (v & 0x7fffffffffffffffn) > 0x7ff0000000000000n;
}

// ---- the wasm under test --------------------------------------------------

export interface Fpu {
  memory: WebAssembly.Memory;
  setFflags(v: number): void;
  getFflags(): number;
  runBatch(op: number, rm: number, vec: number, n: number, out: number, preNX: number, soft: number): void;
  execFp(insn: number): number;
  setHart(addr: number): void;
  [name: string]: any;
}

let fpuPromise: Promise<Fpu> | undefined;

/** Compiles fpu.as.ts (once per test file) and instantiates it. */
export function loadFpu(): Promise<Fpu> {
  fpuPromise ??= (async () => {
    const outputs: Record<string, Uint8Array> = {};
    const stderr: string[] = [];
    const { error } = await asc.main(
      [
        join(here, 'fpu.as.ts'),
        '--runtime', 'stub',
        '--optimizeLevel', '3',
        '--initialMemory', '256',
        '--outFile', 'fpu.wasm',
        // Keep the project's asconfig.json (the kernel build) out of this.
        '--config', join(here, 'no-such-asconfig.json'),
      ],
      {
        writeFile(name: string, contents: Uint8Array | string) {
          outputs[name] = typeof contents === 'string' ? new TextEncoder().encode(contents) : contents;
        },
        stderr: { write: (s: string | Uint8Array) => { stderr.push(String(s)); return true; } } as any,
      },
    );
    if (error) throw new Error(`asc failed: ${error.message}\n${stderr.join('')}`);
    const module = await WebAssembly.compile(outputs['fpu.wasm'] as Uint8Array<ArrayBuffer>);
    const instance = await WebAssembly.instantiate(module);
    return instance.exports as unknown as Fpu;
  })();
  return fpuPromise;
}

// ---- reference generators -------------------------------------------------

let refBin: string | undefined;

/** Builds fpu-ref.c with the host gcc (cached in the temp dir by content). */
function refBinary(): string {
  if (refBin) return refBin;
  const src = join(here, 'fpu-ref.c');
  const hash = createHash('sha256').update(readFileSync(src)).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'rvhv-fpu-ref');
  mkdirSync(dir, { recursive: true });
  const bin = join(dir, `fpu-ref-${hash}`);
  if (!existsSync(bin)) {
    const tmp = `${bin}.${process.pid}`;
    // -frounding-math keeps gcc from folding or moving FP code across
    // fesetround; -fsignaling-nans from treating sNaN like qNaN.
    execFileSync('gcc', ['-O1', '-frounding-math', '-fsignaling-nans', '-mfma', '-o', tmp, src, '-lm']);
    renameSync(tmp, bin);
  }
  return (refBin = bin);
}

function toRecords(buf: Buffer): BigUint64Array {
  const copy = new Uint8Array(buf.length);
  copy.set(buf);
  return new BigUint64Array(copy.buffer);
}

/** n host-FPU vectors for op in mode rm (0..3; float->int also 4). */
export function hostVectors(op: number, rm: number, n: number, seed = 1): BigUint64Array {
  const out = execFileSync(refBinary(), [String(op), String(rm), String(n), String(seed)], {
    maxBuffer: n * 40 + 1024,
  });
  return toRecords(out);
}

/** n exact-arithmetic vectors for each [op, rm]. */
export function exactVectors(specs: [number, number][], n: number, seed = 1): BigUint64Array[] {
  const out = execFileSync('python3', [join(here, 'fpu-rmm.py'), String(seed), String(n), ...specs.map(([o, r]) => `${o}:${r}`)], {
    maxBuffer: specs.length * n * 40 + 1024,
  });
  const all = toRecords(out);
  return specs.map((_, i) => all.subarray(i * n * 5, (i + 1) * n * 5));
}

// ---- comparison -----------------------------------------------------------

const VEC = 1 << 20;

export interface RunOptions {
  /** Start each operation with NX already accrued (the exec.ts situation). */
  preNX?: boolean;
  /** Use the integer soft-float paths for add/sub/mul/div/fma. */
  soft?: boolean;
}

const hex = (v: bigint, bits: number) => '0x' + v.toString(16).padStart(bits / 4, '0');

/**
 * Runs the vectors through the wasm and returns a description of each
 * mismatch (at most `limit`). Results that are NaN in the reference must be
 * the canonical NaN; everything else, flags included, must match exactly.
 * With preNX, NX is expected in every result's flags.
 */
export function mismatches(fpu: Fpu, op: number, rm: number, vec: BigUint64Array, opts: RunOptions = {}, limit = 8): string[] {
  const n = vec.length / 5;
  const need = VEC + n * 56 + 65536;
  const have = fpu.memory.buffer.byteLength;
  if (need > have) fpu.memory.grow(Math.ceil((need - have) / 65536));
  new BigUint64Array(fpu.memory.buffer, VEC, n * 5).set(vec);
  const outAt = VEC + n * 40;
  fpu.runBatch(op, rm, VEC, n, outAt, opts.preNX ? 1 : 0, opts.soft ? 1 : 0);
  const out = new BigUint64Array(fpu.memory.buffer, outAt, n * 2);
  const rf = resultFormat(op);
  const inBits = op >= 32 ? 64 : 32;
  const errs: string[] = [];
  for (let i = 0; i < n; i++) {
    const want = vec[i * 5 + 3];
    const wantFlags = vec[i * 5 + 4] | (opts.preNX ? 1n : 0n);
    const got = out[i * 2];
    const gotFlags = out[i * 2 + 1];
    let ok: boolean;
    if (rf !== 0 && isNaNBits(want, rf)) ok = got === (rf === 32 ? CANON32 : CANON64);
    else ok = got === want;
    if (ok && gotFlags === wantFlags) continue;
    const a = vec[i * 5], b = vec[i * 5 + 1], c = vec[i * 5 + 2];
    const base = op & 31;
    const ops = base >= Base.FROM_W ? hex(a, 64) : [a, b, c].map((v) => hex(v, inBits)).join(' ');
    const rb = rf || 64;
    errs.push(`${opName(op)} ${RM_NAMES[rm]} ${ops}: want ${hex(want, rb)} flags ${wantFlags.toString(16)}, got ${hex(got, rb)} flags ${gotFlags.toString(16)}`);
    if (errs.length >= limit) break;
  }
  return errs;
}

// ---- single calls ---------------------------------------------------------

/** Bits of a binary32 / binary64 number. */
export function f32bits(x: number): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, x);
  return b.getUint32(0);
}
export function f64bits(x: number): bigint {
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, x);
  return b.getBigUint64(0);
}
export function f32val(bits: number): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setUint32(0, bits >>> 0);
  return b.getFloat32(0);
}
export function f64val(bits: bigint): number {
  const b = new DataView(new ArrayBuffer(8));
  b.setBigUint64(0, BigInt.asUintN(64, bits));
  return b.getFloat64(0);
}

/** Calls fpu[name](...args) from clean flags; returns [result, flags]. */
export function call(fpu: Fpu, name: string, ...args: (number | bigint)[]): [any, number] {
  fpu.setFflags(0);
  let r = fpu[name](...args);
  if (typeof r === 'number') r = r >>> 0;
  if (typeof r === 'bigint') r = BigInt.asUintN(64, r);
  return [r, fpu.getFflags()];
}
