// node:path in the browser bundles: POSIX paths in memfs.ts's store, whose
// working directory is '/'. The subset drivers/vhd uses for parent locators.
import { normalize } from './memfs.ts';

export const sep = '/';

export function isAbsolute(p: string): boolean {
  return p.startsWith('/');
}

export function resolve(...parts: string[]): string {
  let p = '/';
  for (const part of parts) p = isAbsolute(part) ? part : `${p}/${part}`;
  return normalize(p);
}

export function join(...parts: string[]): string {
  return normalize(parts.join('/'));
}

export function dirname(p: string): string {
  const n = normalize(p);
  return n.slice(0, n.lastIndexOf('/')) || '/';
}

export function basename(p: string): string {
  return normalize(p).split('/').pop()!;
}

export function relative(from: string, to: string): string {
  const a = resolve(from).split('/').filter(Boolean);
  const b = resolve(to).split('/').filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/');
}

export default { sep, isAbsolute, resolve, join, dirname, basename, relative };
