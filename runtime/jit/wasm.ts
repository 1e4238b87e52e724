// A minimal WebAssembly binary writer: just what the JIT emits (a batch of
// functions of one signature per module, importing the host memory and the
// kernel's helpers). Opcodes are named where they are
// used (translate.ts); this file knows the container format and LEB128.

export class ByteWriter {
  private buf = new Uint8Array(4096);
  length = 0;

  byte(b: number): this {
    if (this.length === this.buf.length) this.grow(1);
    this.buf[this.length++] = b;
    return this;
  }

  /** Appends `bs` in one copy (function bodies and sections: the bulk of a module). */
  bytes(bs: ArrayLike<number>): this {
    if (this.length + bs.length > this.buf.length) this.grow(bs.length);
    this.buf.set(bs, this.length);
    this.length += bs.length;
    return this;
  }

  private grow(atLeast: number): void {
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + atLeast));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  u32(v: number): this {
    v >>>= 0;
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v) b |= 0x80;
      this.byte(b);
    } while (v);
    return this;
  }

  /** Signed LEB128 of a 32-bit value (numbers: no BigInt allocated, the common case of constants). */
  s32(v: number): this {
    v |= 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) return this.byte(b);
      this.byte(b | 0x80);
    }
  }

  /** Signed LEB128 of a 64-bit value (i64 constants). */
  s64(v: bigint): this {
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
        this.byte(b);
        return this;
      }
      this.byte(b | 0x80);
    }
  }

  name(s: string): this {
    this.u32(s.length);
    for (let i = 0; i < s.length; i++) this.byte(s.charCodeAt(i));
    return this;
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

export const I32 = 0x7f;
export const I64 = 0x7e;

/** An imported function `env.<name>`; imports take function indexes 0, 1, ... in order. */
export interface ImportSpec {
  name: string;
  params: number[];
  results: number[];
}

/**
 * A module importing `env.memory` (shared, the host's) and the functions
 * `imports`, and exporting `bodies` as functions of signature `sig` named
 * f0, f1, ... (function index imports.length + i). Compiling and
 * instantiating one module of many functions costs far less per function
 * than one module each (docs/jit.md).
 */
export function moduleWithFunctions(
  sig: { params: number[]; results: number[] },
  bodies: { locals: [number, number][]; body: Uint8Array }[],
  memoryPages: { min: number; max: number },
  imports: ImportSpec[] = [],
): Uint8Array {
  const w = new ByteWriter();
  w.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const section = (id: number, fill: (s: ByteWriter) => void) => {
    const s = new ByteWriter();
    fill(s);
    w.byte(id).u32(s.length).bytes(s.result());
  };
  // Types: 0 = the functions', 1 + i = import i's.
  section(1, (s) => {
    s.u32(1 + imports.length);
    for (const t of [sig, ...imports]) s.byte(0x60).u32(t.params.length).bytes(t.params).u32(t.results.length).bytes(t.results);
  });
  section(2, (s) => {
    s.u32(1 + imports.length);
    imports.forEach((im, i) => s.name('env').name(im.name).byte(0x00).u32(1 + i));
    s.name('env').name('memory').byte(0x02).byte(0x03).u32(memoryPages.min).u32(memoryPages.max);
  });
  section(3, (s) => {
    s.u32(bodies.length);
    for (let i = 0; i < bodies.length; i++) s.u32(0);
  });
  section(7, (s) => {
    s.u32(bodies.length);
    bodies.forEach((_, i) => s.name(`f${i}`).byte(0x00).u32(imports.length + i));
  });
  section(10, (s) => {
    s.u32(bodies.length);
    for (const fn of bodies) {
      const body = new ByteWriter();
      body.u32(fn.locals.length);
      for (const [count, type] of fn.locals) body.u32(count).byte(type);
      body.bytes(fn.body).byte(0x0b);
      s.u32(body.length).bytes(body.result());
    }
  });
  return w.result();
}
