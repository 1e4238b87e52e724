// Parent locators: where a differencing disk says its parent lives. We write
// W2ru (path relative to the child, UTF-16LE, Windows separators) and W2ku
// (absolute path, UTF-16LE); we read those and MacX (UTF-8 file URL) too,
// plus the header's parent name as a last resort.
import * as path from 'node:path';
import type { RandomAccessFile } from '../block/file.ts';
import { decodeUtf16, encodeUtf16 } from './bytes.ts';
import { VhdError } from './errors.ts';
import { type DynamicHeader, PARENT_NAME_BYTES, PLATFORM, platformName } from './header.ts';

export interface ParentCandidate {
  /** Absolute host path to try. */
  path: string;
  /** Which field it came from: a platform code name or "parent name". */
  source: string;
}

const MAX_LOCATOR_BYTES = 64 * 1024;

/** Windows-style relative path from the child's directory to the parent. */
export function relativeLocator(childPath: string, parentPath: string): string {
  const rel = path.relative(path.dirname(path.resolve(childPath)), path.resolve(parentPath)).split(path.sep).join('\\');
  return rel.startsWith('..') ? rel : `.\\${rel}`;
}

/** The locators and parent name we store for a parent at `parentPath`. */
export function parentLocatorsFor(childPath: string, parentPath: string): {
  name: string;
  locators: { platformCode: number; data: Uint8Array }[];
} {
  const abs = path.resolve(parentPath);
  const name = abs.length * 2 <= PARENT_NAME_BYTES - 2 ? abs : path.basename(abs).slice(0, PARENT_NAME_BYTES / 2 - 1);
  return {
    name,
    locators: [
      { platformCode: PLATFORM.W2ru, data: encodeUtf16(relativeLocator(childPath, abs), false) },
      { platformCode: PLATFORM.W2ku, data: encodeUtf16(abs, false) },
    ],
  };
}

/** Turns a stored Windows or POSIX path into a host path (relative ones against `dir`). */
function hostPath(stored: string, dir: string): string | null {
  if (!stored) return null;
  if (/^[A-Za-z]:[\\/]/.test(stored) || stored.startsWith('\\\\')) {
    return process.platform === 'win32' ? stored : null; // a Windows drive path means nothing here
  }
  const p = path.sep === '/' ? stored.replace(/\\/g, '/') : stored;
  return path.resolve(dir, p);
}

/** The decoded text of one locator, or null for platforms we cannot use. */
export function readLocator(file: RandomAccessFile, l: DynamicHeader['locators'][number], index: number): string | null {
  if (l.platformCode === 0 || l.dataLength === 0) return null;
  if (l.dataLength > MAX_LOCATOR_BYTES || !Number.isFinite(l.dataOffset)) {
    throw new VhdError('locator', `parent locator ${index} (${platformName(l.platformCode)}) is ${l.dataLength} bytes at ${l.dataOffset}`);
  }
  const data = new Uint8Array(l.dataLength);
  if (file.read(data, l.dataOffset) !== data.length) {
    throw new VhdError('locator', `parent locator ${index} (${platformName(l.platformCode)}) runs past the end of the file`);
  }
  switch (l.platformCode) {
    case PLATFORM.W2ru:
    case PLATFORM.W2ku:
      return decodeUtf16(data, false);
    case PLATFORM.MacX: {
      const url = new TextDecoder().decode(data).replace(/\0+$/, '');
      const m = /^file:\/\/(?:localhost)?(\/.*)$/.exec(url);
      return m ? decodeURIComponent(m[1]!) : null;
    }
    default:
      return null;
  }
}

/** Where to look for the parent, best first: W2ru, W2ku, MacX, then the parent name. */
export function parentCandidates(childPath: string, file: RandomAccessFile, header: DynamicHeader): ParentCandidate[] {
  const dir = path.dirname(path.resolve(childPath));
  const order = [PLATFORM.W2ru, PLATFORM.W2ku, PLATFORM.MacX] as number[];
  const found: ParentCandidate[] = [];
  const add = (p: string | null, source: string): void => {
    if (p && !found.some((c) => c.path === p)) found.push({ path: p, source });
  };
  for (const code of order) {
    header.locators.forEach((l, i) => {
      if (l.platformCode === code) add(hostPath(readLocator(file, l, i) ?? '', dir), platformName(code));
    });
  }
  add(hostPath(header.parentName, dir), 'parent name');
  return found;
}
