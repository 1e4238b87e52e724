// Files and parent chains: opens a VHD by path, following a differencing
// disk's locators to its parent (recursively), and checks that each parent
// is the one the child was made from (unique id, timestamp) and that the
// chain does not loop.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BlockDevice } from '../block/device.ts';
import { NodeFile, type RandomAccessFile } from '../block/file.ts';
import { RawDevice } from '../block/raw.ts';
import { formatUuid, sameBytes, vhdTimestamp } from './bytes.ts';
import { createDifferencingVhd, createVhd, type CreateOptions } from './create.ts';
import type { VhdDisk } from './disk.ts';
import { DynamicVhd } from './dynamic.ts';
import { VhdError } from './errors.ts';
import { FixedVhd } from './fixed.ts';
import { FOOTER_SIZE, hasCookie, type Footer } from './footer.ts';
import type { DynamicHeader } from './header.ts';
import { readLayout, strictSink, type Layout } from './layout.ts';
import { parentCandidates, parentLocatorsFor, type ParentCandidate } from './locator.ts';

export interface OpenOptions {
  readOnly?: boolean;
  /** Open the immediate parent read-write too (commit). */
  parentWritable?: boolean;
  /** Check the parent's timestamp against the child's record (default true). */
  checkParentTimestamp?: boolean;
}

export const MAX_CHAIN_DEPTH = 64;

interface ChainState {
  paths: Set<string>;
  ids: Set<string>;
}

/** Opens the VHD at `file` and, for a differencing disk, its whole parent chain. */
export function openVhd(file: string, opts: OpenOptions = {}): VhdDisk {
  return openLink(file, opts.readOnly ?? false, opts, { paths: new Set(), ids: new Set() });
}

function openLink(file: string, readOnly: boolean, opts: OpenOptions, chain: ChainState): VhdDisk {
  const real = fs.realpathSync(file);
  if (chain.paths.has(real)) throw new VhdError('parent-loop', `parent chain loops back to ${file}`);
  if (chain.paths.size >= MAX_CHAIN_DEPTH) throw new VhdError('parent-loop', `parent chain deeper than ${MAX_CHAIN_DEPTH}`);
  const raf = NodeFile.open(file, readOnly ? 'r' : 'r+');
  try {
    const layout = readLayout(raf, strictSink);
    const id = formatUuid(layout.footer.uniqueId);
    if (chain.ids.has(id)) throw new VhdError('parent-loop', `parent chain loops back to disk ${id} (${file})`);
    if (layout.type === 'fixed') return new FixedVhd(raf, layout, readOnly);
    let parent: BlockDevice | null = null;
    if (layout.type === 'differencing') {
      const next = { paths: new Set([...chain.paths, real]), ids: new Set([...chain.ids, id]) };
      const found = findParent(file, raf, layout, opts, next);
      parent = openLink(found, !opts.parentWritable, { ...opts, parentWritable: false }, next);
    }
    return new DynamicVhd(raf, layout, { readOnly, parent, ownsParent: true });
  } catch (e) {
    raf.close();
    if (e instanceof VhdError && !e.message.startsWith(file)) throw new VhdError(e.code, `${file}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** Reads just the footer of the VHD at `file` (trailing, or the copy at 0). */
function readFooterOf(file: string): { footer: Footer; mtime: Date } {
  const raf = NodeFile.open(file, 'r');
  try {
    const layout = readLayout(raf, () => {});
    return { footer: layout.footer, mtime: fs.statSync(file).mtime };
  } finally {
    raf.close();
  }
}

/**
 * Picks the parent among the locator candidates: the first existing file
 * whose unique id matches; errors say what was tried.
 */
export function findParent(childFile: string, raf: RandomAccessFile, layout: Layout, opts: OpenOptions, chain?: ChainState): string {
  const header = layout.header as DynamicHeader;
  const candidates = parentCandidates(childFile, raf, header);
  const tried: string[] = [];
  let mismatch: VhdError | null = null;
  for (const c of candidates) {
    if (!fs.existsSync(c.path)) {
      tried.push(`${c.path} (${c.source}: not found)`);
      continue;
    }
    const real = fs.realpathSync(c.path);
    if (chain?.paths.has(real)) throw new VhdError('parent-loop', `${childFile}: parent ${c.path} is already in the chain`);
    const problem = parentProblem(c, header, opts);
    if (!problem) return c.path;
    mismatch ??= problem;
    tried.push(`${c.path} (${c.source}: ${problem.message})`);
  }
  if (mismatch) throw new VhdError(mismatch.code, `${childFile}: no matching parent; tried ${tried.join('; ')}`, { cause: mismatch });
  throw new VhdError('parent-missing', `${childFile}: parent not found; tried ${tried.join('; ') || 'no usable locator'}`);
}

function parentProblem(c: ParentCandidate, header: DynamicHeader, opts: OpenOptions): VhdError | null {
  let info: { footer: Footer; mtime: Date };
  try {
    info = readFooterOf(c.path);
  } catch (e) {
    return new VhdError('parent-id', `not a usable VHD`, { cause: e });
  }
  const { footer, mtime } = info;
  if (!sameBytes(footer.uniqueId, header.parentUniqueId)) {
    return new VhdError('parent-id', `unique id ${formatUuid(footer.uniqueId)}, expected ${formatUuid(header.parentUniqueId)}`);
  }
  // We record the parent's footer timestamp; Virtual PC and VirtualBox record the parent file's mtime.
  const ts = header.parentTimestamp;
  if ((opts.checkParentTimestamp ?? true) && ts !== footer.timestamp && ts !== vhdTimestamp(mtime)) {
    return new VhdError('parent-timestamp', `timestamp ${footer.timestamp} (modified ${vhdTimestamp(mtime)}), expected ${ts}`);
  }
  return null;
}

/** True when the file carries a VHD footer (at the start or the end). */
export function isVhd(file: string): boolean {
  const raf = NodeFile.open(file, 'r');
  try {
    const size = raf.size();
    if (size < FOOTER_SIZE) return false;
    const buf = new Uint8Array(FOOTER_SIZE);
    raf.read(buf, 0);
    if (hasCookie(buf)) return true;
    raf.read(buf, size - FOOTER_SIZE);
    return hasCookie(buf);
  } finally {
    raf.close();
  }
}

/** Opens a disk image of either format: VHD (any type, with its chain) or raw. */
export function openImage(file: string, opts: OpenOptions & { format?: 'raw' | 'vhd' } = {}): BlockDevice {
  const format = opts.format ?? (isVhd(file) ? 'vhd' : 'raw');
  return format === 'vhd' ? openVhd(file, opts) : RawDevice.open(file, { readOnly: opts.readOnly });
}

/** Creates a fixed or dynamic VHD file. */
export function createVhdFile(file: string, opts: CreateOptions): Footer {
  const raf = NodeFile.open(file, 'w+');
  try {
    return createVhd(raf, opts);
  } finally {
    raf.close();
  }
}

/** Creates a differencing VHD at `file` over the VHD at `parentFile`. */
export function createDifferencingFile(file: string, parentFile: string, opts: { blockSize?: number } = {}): Footer {
  if (path.resolve(file) === path.resolve(parentFile)) throw new VhdError('parent-loop', 'a disk cannot be its own parent');
  const parent = openVhd(parentFile, { readOnly: true });
  const { footer, size } = parent;
  const blockSize = opts.blockSize ?? (parent instanceof DynamicVhd ? parent.blockSize : undefined);
  parent.close();
  const { name, locators } = parentLocatorsFor(file, parentFile);
  const raf = NodeFile.open(file, 'w+');
  try {
    return createDifferencingVhd(
      raf,
      { size, uniqueId: footer.uniqueId, timestamp: footer.timestamp, name, locators },
      { blockSize },
    );
  } finally {
    raf.close();
  }
}
