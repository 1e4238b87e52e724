// A small flattened-device-tree (FDT, "DTB") writer and reader, Devicetree
// Specification v0.4 chapter 5, format version 17 (last compatible 16).
// All integers big-endian.
//
//   +0x00 +----------------------------+
//         | header (40 bytes)          |  magic 0xd00dfeed, totalsize, offsets
//   +0x28 +----------------------------+ off_mem_rsvmap (8-aligned)
//         | {address u64, size u64}*   |  ends with {0, 0}
//         +----------------------------+ off_dt_struct (4-aligned)
//         | BEGIN_NODE name\0 pad      |
//         | PROP len nameoff value pad |  tokens are u32
//         | ... END_NODE ... END       |
//         +----------------------------+ off_dt_strings
//         | property names, \0 each    |  deduplicated
//         +----------------------------+ totalsize
//
// Property values are stored as the spec encodes them (cells are u32, strings
// NUL-terminated); a cell may name a node, which becomes its phandle when the
// blob is written (nodes referenced without one get the next free number).

export const FDT_MAGIC = 0xd00dfeed;
export const FDT_VERSION = 17;
export const FDT_LAST_COMP_VERSION = 16;
const FDT_BEGIN_NODE = 1;
const FDT_END_NODE = 2;
const FDT_PROP = 3;
const FDT_NOP = 4;
const FDT_END = 9;
const HEADER_SIZE = 40;

/** Malformed tree on write (bad name) or malformed blob on read. */
export class FdtError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FdtError';
  }
}

/** A u32 cell, or a node standing for its phandle. */
export type Cell = number | FdtNode;

export interface Reservation {
  address: bigint;
  size: bigint;
}

interface Prop {
  readonly name: string;
  readonly value: Uint8Array | readonly Cell[];
}

// Spec 2.2.1 / 2.2.4: node-name[@unit-address] and property names, 1..31 characters.
const NODE_NAME = /^[A-Za-z0-9,._+-]{1,31}(@[A-Za-z0-9,._+-]+)?$/;
const PROP_NAME = /^[A-Za-z0-9,._+?#-]{1,31}$/;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export class FdtNode {
  private readonly propList: Prop[] = [];
  private readonly childList: FdtNode[] = [];
  private phandleValue: number | undefined;

  constructor(readonly name: string) {}

  get props(): readonly { readonly name: string }[] {
    return this.propList;
  }

  get children(): readonly FdtNode[] {
    return this.childList;
  }

  /** This node's phandle, if it has one. */
  get phandle(): number | undefined {
    return this.phandleValue;
  }

  /** Adds and returns a child node. */
  addNode(name: string): FdtNode {
    if (name !== '' && !NODE_NAME.test(name)) throw new FdtError(`invalid node name '${name}'`);
    if (this.childList.some((c) => c.name === name)) throw new FdtError(`duplicate node '${name}' under '${this.name}'`);
    const node = new FdtNode(name);
    this.childList.push(node);
    return node;
  }

  /** Gives the node a phandle, written as a "phandle" property at this point of the property list. */
  setPhandle(value: number): this {
    if (!Number.isInteger(value) || value < 1 || value > 0xffff_fffe) throw new FdtError(`invalid phandle ${value}`);
    this.phandleValue = value;
    return this.u32('phandle', value);
  }

  /** A property with no value (a boolean such as interrupt-controller). */
  empty(name: string): this {
    return this.set(name, new Uint8Array(0));
  }

  /** One or more u32 cells; a node stands for its phandle (prop-encoded-array of <u32>/<phandle>). */
  u32(name: string, ...cells: Cell[]): this {
    for (const c of cells) {
      if (typeof c === 'number' && (!Number.isInteger(c) || c < 0 || c > 0xffff_ffff)) {
        throw new FdtError(`property '${name}': ${c} is not a u32`);
      }
    }
    return this.set(name, cells);
  }

  /** One or more u64 values, each two cells, high first. */
  u64(name: string, ...values: (number | bigint)[]): this {
    const out = new Uint8Array(8 * values.length);
    const view = new DataView(out.buffer);
    values.forEach((v, i) => {
      const b = BigInt(v);
      if (b < 0n || b >= 1n << 64n) throw new FdtError(`property '${name}': ${v} is not a u64`);
      view.setBigUint64(8 * i, b);
    });
    return this.set(name, out);
  }

  /** A NUL-terminated string. */
  string(name: string, value: string): this {
    return this.strings(name, [value]);
  }

  /** A string list (each NUL-terminated), as in compatible = "a", "b". */
  strings(name: string, values: readonly string[]): this {
    const parts = values.map((v) => {
      if (v.includes('\0')) throw new FdtError(`property '${name}': string contains NUL`);
      return utf8.encode(v + '\0');
    });
    return this.set(name, concat(parts));
  }

  bytes(name: string, data: Uint8Array): this {
    return this.set(name, Uint8Array.from(data));
  }

  /** The encoded value of a property (cells naming nodes need those nodes' phandles). */
  value(name: string): Uint8Array | undefined {
    const p = this.propList.find((q) => q.name === name);
    return p && encodeValue(p);
  }

  /** A property's first u32 cell. */
  getU32(name: string): number | undefined {
    const v = this.value(name);
    return v && v.length >= 4 ? new DataView(v.buffer, v.byteOffset).getUint32(0) : undefined;
  }

  /** All of a property's u32 cells. */
  getCells(name: string): number[] | undefined {
    const v = this.value(name);
    if (!v) return undefined;
    const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
    return Array.from({ length: v.length >>> 2 }, (_, i) => view.getUint32(4 * i));
  }

  /** A property's strings (a string list, or one string). */
  getStrings(name: string): string[] | undefined {
    const v = this.value(name);
    if (!v) return undefined;
    const text = fromUtf8.decode(v);
    return (text.endsWith('\0') ? text.slice(0, -1) : text).split('\0');
  }

  getString(name: string): string | undefined {
    return this.getStrings(name)?.[0];
  }

  /** A direct child by full name ("cpu@0"). */
  child(name: string): FdtNode | undefined {
    return this.childList.find((c) => c.name === name);
  }

  /** A descendant by path relative to this node ("/soc/serial@10000000"). */
  find(path: string): FdtNode | undefined {
    let node: FdtNode | undefined = this;
    for (const part of path.split('/').filter((p) => p !== '')) {
      node = node.child(part);
      if (!node) return undefined;
    }
    return node;
  }

  /** Every node of the subtree with its path, depth first, in order. */
  *walk(path = '/'): Generator<[string, FdtNode]> {
    yield [path, this];
    for (const c of this.childList) yield* c.walk(path === '/' ? `/${c.name}` : `${path}/${c.name}`);
  }

  private set(name: string, value: Uint8Array | readonly Cell[]): this {
    if (!PROP_NAME.test(name)) throw new FdtError(`invalid property name '${name}'`);
    const i = this.propList.findIndex((p) => p.name === name);
    if (i >= 0) this.propList[i] = { name, value };
    else this.propList.push({ name, value });
    return this;
  }

  /** @internal Used by the writer to give referenced nodes a phandle. */
  assignPhandle(value: number): void {
    this.phandleValue = value;
    this.propList.push({ name: 'phandle', value: [value] });
  }

  /** @internal Used by the reader. */
  rawProp(name: string, value: Uint8Array): void {
    this.propList.push({ name, value });
    if (name === 'phandle' && value.length === 4) this.phandleValue = new DataView(value.buffer, value.byteOffset).getUint32(0);
  }

  /** @internal */
  rawChild(node: FdtNode): void {
    this.childList.push(node);
  }

  /** @internal */
  cellRefs(): FdtNode[] {
    const out: FdtNode[] = [];
    for (const p of this.propList) if (Array.isArray(p.value)) for (const c of p.value as Cell[]) if (c instanceof FdtNode) out.push(c);
    return out;
  }
}

function encodeValue(p: Prop): Uint8Array {
  if (p.value instanceof Uint8Array) return p.value;
  const out = new Uint8Array(4 * p.value.length);
  const view = new DataView(out.buffer);
  p.value.forEach((c, i) => {
    const v = c instanceof FdtNode ? c.phandle : c;
    if (v === undefined) throw new FdtError(`property '${p.name}' refers to node '${c instanceof FdtNode ? c.name : ''}' without a phandle`);
    view.setUint32(4 * i, v);
  });
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export interface WriteOptions {
  reservations?: readonly Reservation[];
  /** Physical id of the boot CPU (header field boot_cpuid_phys). */
  bootCpuid?: number;
}

/** Serializes the tree rooted at `root` (whose name must be "") into a DTB. */
export function writeFdt(root: FdtNode, options: WriteOptions = {}): Uint8Array {
  if (root.name !== '') throw new FdtError(`the root node's name must be empty, not '${root.name}'`);
  assignPhandles(root);

  // Struct block.
  const chunks: Uint8Array[] = [];
  const strings = new Map<string, number>();
  let stringsSize = 0;
  const stringOffset = (name: string): number => {
    let off = strings.get(name);
    if (off === undefined) {
      off = stringsSize;
      strings.set(name, off);
      stringsSize += utf8.encode(name).length + 1;
    }
    return off;
  };
  const u32s = (...v: number[]) => {
    const b = new Uint8Array(4 * v.length);
    const view = new DataView(b.buffer);
    v.forEach((x, i) => view.setUint32(4 * i, x));
    chunks.push(b);
  };
  const padded = (data: Uint8Array) => {
    const b = new Uint8Array((data.length + 3) & ~3);
    b.set(data);
    chunks.push(b);
  };
  const emit = (node: FdtNode) => {
    u32s(FDT_BEGIN_NODE);
    padded(utf8.encode(node.name + '\0'));
    for (const p of node.props) {
      const value = node.value(p.name)!;
      u32s(FDT_PROP, value.length, stringOffset(p.name));
      padded(value);
    }
    for (const c of node.children) emit(c);
    u32s(FDT_END_NODE);
  };
  emit(root);
  u32s(FDT_END);
  const struct = concat(chunks);
  const stringsBlock = concat([...strings.keys()].map((s) => utf8.encode(s + '\0')));

  // Memory reservation block.
  const rsv = options.reservations ?? [];
  const rsvBlock = new Uint8Array(16 * (rsv.length + 1));
  const rsvView = new DataView(rsvBlock.buffer);
  rsv.forEach((r, i) => {
    rsvView.setBigUint64(16 * i, r.address);
    rsvView.setBigUint64(16 * i + 8, r.size);
  });

  const offRsv = HEADER_SIZE; // 40 is 8-aligned
  const offStruct = offRsv + rsvBlock.length;
  const offStrings = offStruct + struct.length;
  const total = offStrings + stringsBlock.length;
  const blob = new Uint8Array(total);
  const h = new DataView(blob.buffer);
  h.setUint32(0, FDT_MAGIC);
  h.setUint32(4, total);
  h.setUint32(8, offStruct);
  h.setUint32(12, offStrings);
  h.setUint32(16, offRsv);
  h.setUint32(20, FDT_VERSION);
  h.setUint32(24, FDT_LAST_COMP_VERSION);
  h.setUint32(28, options.bootCpuid ?? 0);
  h.setUint32(32, stringsBlock.length);
  h.setUint32(36, struct.length);
  blob.set(rsvBlock, offRsv);
  blob.set(struct, offStruct);
  blob.set(stringsBlock, offStrings);
  return blob;
}

/** Gives every node referenced from a cell, and lacking one, the next free phandle. */
function assignPhandles(root: FdtNode): void {
  let next = 1;
  const referenced = new Set<FdtNode>();
  for (const [, n] of root.walk()) {
    if (n.phandle !== undefined) next = Math.max(next, n.phandle + 1);
    for (const r of n.cellRefs()) referenced.add(r);
  }
  for (const n of referenced) if (n.phandle === undefined) n.assignPhandle(next++);
}

export interface ParsedFdt {
  root: FdtNode;
  reservations: Reservation[];
  bootCpuid: number;
  version: number;
}

/** Reads a DTB (version 16 or later). Throws FdtError for anything malformed. */
export function parseFdt(blob: Uint8Array): ParsedFdt {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const need = (off: number, len: number, what: string) => {
    if (off < 0 || len < 0 || off + len > blob.length) throw new FdtError(`truncated blob: ${what} at ${off}`);
  };
  need(0, HEADER_SIZE, 'header');
  if (view.getUint32(0) !== FDT_MAGIC) throw new FdtError('bad magic (not a DTB)');
  const total = view.getUint32(4);
  const offStruct = view.getUint32(8);
  const offStrings = view.getUint32(12);
  const offRsv = view.getUint32(16);
  const version = view.getUint32(20);
  const bootCpuid = view.getUint32(28);
  const sizeStrings = view.getUint32(32);
  const sizeStruct = view.getUint32(36);
  if (version < 16 || view.getUint32(24) > FDT_VERSION) throw new FdtError(`unsupported FDT version ${version}`);
  need(0, total, 'totalsize');
  need(offStrings, sizeStrings, 'strings block');
  need(offStruct, sizeStruct, 'struct block');

  const reservations: Reservation[] = [];
  for (let off = offRsv; ; off += 16) {
    need(off, 16, 'reservation');
    const address = view.getBigUint64(off);
    const size = view.getBigUint64(off + 8);
    if (address === 0n && size === 0n) break;
    reservations.push({ address, size });
  }

  const cstring = (off: number, end: number, what: string): [string, number] => {
    const nul = blob.indexOf(0, off);
    if (nul < 0 || nul >= end) throw new FdtError(`unterminated ${what} at ${off}`);
    return [fromUtf8.decode(blob.subarray(off, nul)), nul + 1];
  };

  const end = offStruct + sizeStruct;
  let off = offStruct;
  const token = () => {
    if (off + 4 > end) throw new FdtError(`struct block ends without FDT_END at ${off}`);
    const t = view.getUint32(off);
    off += 4;
    return t;
  };
  const stack: FdtNode[] = [];
  let root: FdtNode | undefined;
  for (;;) {
    const t = token();
    if (t === FDT_BEGIN_NODE) {
      const [name, next] = cstring(off, end, 'node name');
      off = (next + 3) & ~3;
      const node = new FdtNode(name);
      if (stack.length > 0) stack[stack.length - 1]!.rawChild(node);
      else if (root) throw new FdtError('more than one root node');
      else root = node;
      stack.push(node);
    } else if (t === FDT_END_NODE) {
      if (!stack.pop()) throw new FdtError('unbalanced END_NODE');
    } else if (t === FDT_PROP) {
      const len = token();
      const nameoff = token();
      if (off + len > end) throw new FdtError(`property value overruns the struct block at ${off}`);
      const node = stack[stack.length - 1];
      if (!node) throw new FdtError('property outside a node');
      const [name] = cstring(offStrings + nameoff, offStrings + sizeStrings, 'property name');
      node.rawProp(name, blob.slice(off, off + len));
      off = (off + len + 3) & ~3;
    } else if (t === FDT_NOP) {
      continue;
    } else if (t === FDT_END) {
      break;
    } else {
      throw new FdtError(`bad token ${t} at ${off - 4}`);
    }
  }
  if (!root || stack.length !== 0) throw new FdtError('unterminated tree');
  return { root, reservations, bootCpuid, version };
}
