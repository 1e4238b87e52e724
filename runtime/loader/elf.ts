// ELF64 loader for RISC-V guests: program headers for loading, the symbol
// table for HTIF's `tohost`/`fromhost`. Every malformed input becomes an
// ElfError naming the problem; nothing here trusts a field before checking it.
import { InputError } from '../errors.ts';

export class ElfError extends InputError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ElfError';
  }
}

export interface Segment {
  /** Physical load address (p_paddr, as QEMU's loader uses). */
  readonly addr: bigint;
  /** Bytes from the file; the rest up to memSize is zero. */
  readonly data: Uint8Array;
  readonly memSize: bigint;
}

export interface ElfImage {
  readonly entry: bigint;
  readonly segments: readonly Segment[];
  readonly symbols: ReadonlyMap<string, bigint>;
}

const EM_RISCV = 243;
const PT_LOAD = 1;
const SHT_SYMTAB = 2;

export function parseElf(bytes: Uint8Array): ElfImage {
  if (bytes.length < 64) throw new ElfError(`truncated ELF header (${bytes.length} bytes)`);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfError('not an ELF file (bad magic)');
  }
  if (bytes[4] === 1) throw new ElfError('32-bit ELF: an RV64 guest is required');
  if (bytes[4] !== 2) throw new ElfError(`bad ELF class ${bytes[4]}`);
  if (bytes[5] !== 1) throw new ElfError('big-endian ELF: RISC-V is little-endian');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => dv.getUint16(o, true);
  const u32 = (o: number) => dv.getUint32(o, true);
  const u64 = (o: number) => dv.getBigUint64(o, true);
  const machine = u16(18);
  if (machine !== EM_RISCV) throw new ElfError(`not a RISC-V ELF (e_machine ${machine})`);
  const type = u16(16);
  if (type !== 2 && type !== 3) throw new ElfError(`not an executable (e_type ${type})`);
  const entry = u64(24);

  const phoff = Number(u64(32));
  const phentsize = u16(54);
  const phnum = u16(56);
  if (phnum === 0) throw new ElfError('no program headers');
  if (phentsize < 56) throw new ElfError(`bad program header size ${phentsize}`);
  if (phoff + phnum * phentsize > bytes.length) throw new ElfError('truncated: program headers run past the end of the file');

  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (u32(ph) !== PT_LOAD) continue;
    const offset = u64(ph + 8);
    const paddr = u64(ph + 24);
    const filesz = u64(ph + 32);
    const memsz = u64(ph + 40);
    if (memsz === 0n) continue;
    if (filesz > memsz) throw new ElfError(`segment ${i}: file size ${filesz} exceeds memory size ${memsz}`);
    if (offset + filesz > BigInt(bytes.length)) throw new ElfError(`truncated: segment ${i} runs past the end of the file`);
    if (paddr + memsz > 1n << 64n) throw new ElfError(`segment ${i}: wraps around the address space`);
    const data = bytes.subarray(Number(offset), Number(offset + filesz));
    for (const s of segments) {
      if (paddr < s.addr + s.memSize && s.addr < paddr + memsz) {
        throw new ElfError(`segments overlap at 0x${paddr.toString(16)}`);
      }
    }
    segments.push({ addr: paddr, data, memSize: memsz });
  }
  if (segments.length === 0) throw new ElfError('no loadable segments');
  return { entry, segments, symbols: readSymbols(bytes, dv) };
}

/** Global symbols from .symtab; a missing or damaged table yields none (symbols are optional). */
function readSymbols(bytes: Uint8Array, dv: DataView): Map<string, bigint> {
  const symbols = new Map<string, bigint>();
  const shoff = Number(dv.getBigUint64(40, true));
  const shentsize = dv.getUint16(58, true);
  const shnum = dv.getUint16(60, true);
  if (shoff === 0 || shentsize < 64 || shoff + shnum * shentsize > bytes.length) return symbols;
  const sh = (i: number) => shoff + i * shentsize;
  for (let i = 0; i < shnum; i++) {
    if (dv.getUint32(sh(i) + 4, true) !== SHT_SYMTAB) continue;
    const off = Number(dv.getBigUint64(sh(i) + 24, true));
    const size = Number(dv.getBigUint64(sh(i) + 32, true));
    const link = dv.getUint32(sh(i) + 40, true);
    if (link >= shnum || off + size > bytes.length) continue;
    const strOff = Number(dv.getBigUint64(sh(link) + 24, true));
    const strSize = Number(dv.getBigUint64(sh(link) + 32, true));
    if (strOff + strSize > bytes.length) continue;
    for (let s = off; s + 24 <= off + size; s += 24) {
      const name = dv.getUint32(s, true);
      if (name === 0 || name >= strSize) continue;
      let end = strOff + name;
      while (end < strOff + strSize && bytes[end] !== 0) end++;
      const text = new TextDecoder().decode(bytes.subarray(strOff + name, end));
      symbols.set(text, dv.getBigUint64(s + 8, true));
    }
  }
  return symbols;
}
