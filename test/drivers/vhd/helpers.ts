// Shared test helpers: temp directories, deterministic data, qemu tools.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BlockDevice } from '../../../drivers/block/device.ts';

export function tempDir(prefix = 'vhd-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Bytes from a seeded xorshift generator (deterministic "random" data). */
export function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function filled(length: number, byte: number): Uint8Array {
  return new Uint8Array(length).fill(byte);
}

export function readAll(dev: BlockDevice): Uint8Array {
  const out = new Uint8Array(dev.size);
  const chunk = 1 << 20;
  for (let off = 0; off < dev.size; off += chunk) dev.read(off, out.subarray(off, Math.min(dev.size, off + chunk)));
  return out;
}

export function readAt(dev: BlockDevice, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  dev.read(offset, out);
  return out;
}

/** First differing offset of two byte arrays, or -1 (cheaper to report than a full diff). */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  if (Buffer.compare(a, b) === 0) return -1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function has(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

export const qemuAvailable = has('qemu-img') && has('qemu-io');
if (!qemuAvailable) {
  console.warn('qemu-img/qemu-io not found: skipping VHD interoperability tests (install qemu-utils to run them)');
}

export function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function qemuIo(file: string, ...commands: string[]): string {
  const args = ['-f', 'vpc'];
  for (const c of commands) args.push('-c', c);
  args.push(file);
  return execFileSync('qemu-io', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
