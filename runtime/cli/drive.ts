// `-drive` option values in QEMU's syntax, and opening the disk they name:
//
//   -drive file=PATH,format=raw|vpc,if=virtio|vmbus[,readonly=on]
//
// As in QEMU, a comma inside a value is written twice (file=a,,b.img is
// "a,b.img"). `format` may be left out: the image is then probed (a VHD
// footer means vpc, anything else raw). `if` defaults to virtio (a
// virtio-blk disk); vmbus makes it a synthetic SCSI disk on VMBus, for
// enlightened guests (-bios hv). Anything else is a UsageError.

import { UsageError } from './errors.ts';
import type { DiskSpec } from '../host/spec.ts';

export { openDrive } from '../machine/drives.ts';

export type DriveFormat = 'raw' | 'vpc';

export type DriveSpec = Required<Pick<DiskSpec, 'path' | 'readonly'>> & { format: DriveFormat | undefined; if?: 'vmbus' };

const BOOLS: Record<string, boolean> = { on: true, yes: true, true: true, off: false, no: false, false: false };

/** Splits "a=1,b=x,,y" into [["a","1"],["b","x,y"]] (",," is a literal comma); `option` names it in errors. */
export function splitOptions(text: string, option = '-drive'): [string, string][] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === ',') {
      if (text[i + 1] === ',') {
        cur += ',';
        i++;
        continue;
      }
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  return parts.map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UsageError(`${option}: '${p}' is not key=value`);
    return [p.slice(0, eq), p.slice(eq + 1)];
  });
}

/** Parses one `-drive` value. Throws UsageError. */
export function parseDrive(text: string): DriveSpec {
  const seen = new Set<string>();
  let path: string | undefined;
  let format: DriveFormat | undefined;
  let readonly = false;
  let vmbus = false;
  for (const [key, value] of splitOptions(text)) {
    if (seen.has(key)) throw new UsageError(`-drive: '${key}' given twice`);
    seen.add(key);
    switch (key) {
      case 'file':
        if (value === '') throw new UsageError('-drive: file= is empty');
        path = value;
        break;
      case 'format':
        if (value !== 'raw' && value !== 'vpc') throw new UsageError(`-drive: format '${value}' is not supported (raw, vpc)`);
        format = value;
        break;
      case 'if':
        if (value !== 'virtio' && value !== 'vmbus') throw new UsageError(`-drive: interface '${value}' is not supported (virtio, vmbus)`);
        vmbus = value === 'vmbus';
        break;
      case 'readonly': {
        const b = BOOLS[value];
        if (b === undefined) throw new UsageError(`-drive: readonly wants on or off, got '${value}'`);
        readonly = b;
        break;
      }
      default:
        throw new UsageError(`-drive: unknown option '${key}' (file, format, if, readonly)`);
    }
  }
  if (path === undefined) throw new UsageError('-drive: file= is missing');
  return vmbus ? { path, format, readonly, if: 'vmbus' } : { path, format, readonly };
}
