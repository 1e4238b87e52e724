// `-drive` option values in QEMU's syntax, and opening the disk they name:
//
//   -drive file=PATH,format=raw|vpc,if=virtio[,readonly=on]
//
// As in QEMU, a comma inside a value is written twice (file=a,,b.img is
// "a,b.img"). `format` may be left out: the image is then probed (a VHD
// footer means vpc, anything else raw). `if` defaults to virtio, the only
// interface this board has. Anything else is a UsageError.

import { BlockError, type BlockDevice } from '../../drivers/block/device.ts';
import { RawDevice } from '../../drivers/block/raw.ts';
import { isVhd, openVhd } from '../../drivers/vhd/chain.ts';
import { InputError, UsageError } from './errors.ts';

export type DriveFormat = 'raw' | 'vpc';

export interface DriveSpec {
  path: string;
  /** undefined: probe the image when it is opened. */
  format: DriveFormat | undefined;
  readonly: boolean;
}

const BOOLS: Record<string, boolean> = { on: true, yes: true, true: true, off: false, no: false, false: false };

/** Splits "a=1,b=x,,y" into [["a","1"],["b","x,y"]] (",," is a literal comma). */
function splitOptions(text: string): [string, string][] {
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
    if (eq <= 0) throw new UsageError(`-drive: '${p}' is not key=value`);
    return [p.slice(0, eq), p.slice(eq + 1)];
  });
}

/** Parses one `-drive` value. Throws UsageError. */
export function parseDrive(text: string): DriveSpec {
  const seen = new Set<string>();
  let path: string | undefined;
  let format: DriveFormat | undefined;
  let readonly = false;
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
        if (value !== 'virtio') throw new UsageError(`-drive: interface '${value}' is not supported (virtio)`);
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
  return { path, format, readonly };
}

/**
 * Opens the disk a `-drive` names: raw images through drivers/block/raw.ts,
 * VHD (vpc: fixed, dynamic or differencing with its parents) through
 * drivers/vhd. Throws InputError when the file cannot be opened or is not a
 * valid image of its format.
 */
export function openDrive(spec: DriveSpec): BlockDevice {
  try {
    const format = spec.format ?? (isVhd(spec.path) ? 'vpc' : 'raw');
    if (format === 'vpc') return openVhd(spec.path, { readOnly: spec.readonly });
    return RawDevice.open(spec.path, { readOnly: spec.readonly });
  } catch (e) {
    if (e instanceof BlockError) throw new InputError(`-drive: '${spec.path}': ${e.message}`, { cause: e });
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`-drive: cannot open '${spec.path}': ${code ?? (e as Error).message}`, { cause: e });
  }
}
