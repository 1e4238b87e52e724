// The argument types of control commands (commands.ts) and their checks.
// A request's `arguments` object comes from a client, so every value is
// checked here before a HostController verb sees it; a bad one is an
// InvalidArgument error naming the argument. Partitions are resolved
// against the host's list by the dispatcher (dispatch.ts), not here.
import { parseSize, SizeError } from '../../drivers/board/size.ts';
import { ControlRequestError } from './protocol.ts';

export type ArgType =
  | 'partition' // a partition's id (integer) or name
  | 'target' // a partition (id or name) or, failing that, a directory (revert)
  | 'integer' // a non-negative safe integer
  | 'string'
  | 'path' // a non-empty string; relative to the host's working directory (hv control sends absolute ones)
  | 'boolean'
  | 'size' // bytes: an integer, or a string with a suffix ("64M"; a plain number in a string is MiB, as -m)
  | 'endpoint' // "HOST:PORT" (HOST default 127.0.0.1) or {"host":...,"port":...}
  | 'choice'; // one of `choices`

export interface ArgSpec {
  name: string;
  type: ArgType;
  /** For 'choice'. */
  choices?: readonly string[];
  help: string;
}

const bad = (command: string, name: string, want: string, got: unknown) =>
  new ControlRequestError('InvalidArgument', `${command}: '${name}' must be ${want}, got ${JSON.stringify(got) ?? String(got)}`);

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** `value` as argument `a` of `command` wants it; throws InvalidArgument. Partitions stay as given (id or name). */
export function checkArgument(command: string, a: ArgSpec, value: unknown): unknown {
  switch (a.type) {
    case 'partition':
    case 'target':
      if (isCount(value) || (typeof value === 'string' && value !== '')) return value;
      throw bad(command, a.name, a.type === 'target' ? 'a partition id or name, or a directory' : 'a partition id or name', value);
    case 'integer':
      if (isCount(value)) return value;
      throw bad(command, a.name, 'a non-negative integer', value);
    case 'string':
      if (typeof value === 'string') return value;
      throw bad(command, a.name, 'a string', value);
    case 'path':
      if (typeof value === 'string' && value !== '' && !value.includes('\0')) return value;
      throw bad(command, a.name, 'a path', value);
    case 'boolean':
      if (typeof value === 'boolean') return value;
      throw bad(command, a.name, 'true or false', value);
    case 'size':
      if (isCount(value)) return value;
      if (typeof value === 'string') {
        try {
          return parseSize(value);
        } catch (e) {
          if (e instanceof SizeError) throw new ControlRequestError('InvalidArgument', `${command}: '${a.name}': ${e.message}`, { cause: e });
          throw e;
        }
      }
      throw bad(command, a.name, 'a size (bytes, or a string such as "64M")', value);
    case 'endpoint':
      return endpoint(command, a.name, value);
    case 'choice':
      if (typeof value === 'string' && a.choices!.includes(value)) return value;
      throw bad(command, a.name, `one of ${a.choices!.join(', ')}`, value);
  }
}

function endpoint(command: string, name: string, value: unknown): { host: string; port: number } {
  const port = (p: unknown) => typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535;
  if (typeof value === 'string') {
    const m = /^(?:(.+):)?(\d{1,5})$/.exec(value);
    if (m && port(Number(m[2]))) return { host: m[1] ?? '127.0.0.1', port: Number(m[2]) };
  } else if (typeof value === 'object' && value !== null) {
    const { host, port: p, ...rest } = value as Record<string, unknown>;
    if (typeof host === 'string' && host !== '' && port(p) && Object.keys(rest).length === 0) return { host, port: p as number };
  }
  throw bad(command, name, '"HOST:PORT" or {"host":...,"port":...}', value);
}
