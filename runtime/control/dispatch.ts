// Runs one request against the host: finds the command in the table
// (commands.ts), checks its arguments (arguments.ts), resolves partitions
// by id or name, and calls the verb. Whatever goes wrong comes out as a
// ControlRequestError with an error class (protocol.ts), never as a throw
// the server would have to guess about.
import { InputError } from '../errors.ts';
import type { HostController, PartitionInfo } from '../host/controller.ts';
import { checkArgument, type ArgSpec } from './arguments.ts';
import { commandNamed, type CommandContext } from './commands.ts';
import { ControlRequestError, type ErrorClass, type EventName, type Request } from './protocol.ts';

export interface Outcome {
  /** The command's name (an alias resolved) and what it returned; `{}` for a verb that returns nothing. */
  command: string;
  value: unknown;
  /** The partition it was about, if any (resolved from an id or a name). */
  partition?: number;
  /** The event it causes, for every client. */
  event?: { name: EventName; data: Record<string, unknown> };
}

export async function dispatch(c: CommandContext, request: Request): Promise<Outcome> {
  const found = commandNamed(request.execute);
  if (!found) throw new ControlRequestError('CommandNotFound', `no command '${request.execute}' (the command 'commands' lists them)`);
  const [name, spec] = found;
  const given = request.arguments ?? {};
  const known = [...(spec.args ?? []), ...(spec.options ?? [])];
  for (const k of Object.keys(given)) {
    if (!known.some((a) => a.name === k)) {
      throw new ControlRequestError('InvalidArgument', `${name}: no argument '${k}' (it takes ${known.map((a) => a.name).join(', ') || 'none'})`);
    }
  }
  const values: unknown[] = [];
  let who: PartitionInfo | undefined;
  for (const a of spec.args ?? []) {
    if (given[a.name] === undefined) throw new ControlRequestError('InvalidArgument', `${name}: '${a.name}' is missing (${a.help})`);
    let v = checkArgument(name, a, given[a.name]);
    if (a.type === 'partition' || a.type === 'target') {
      who = await findPartition(c.host, v as number | string, a);
      v = who ? who.id : v; // a target that names no partition is a directory
    }
    values.push(v);
  }
  let options: Record<string, unknown> | undefined;
  if (spec.options) {
    options = {};
    for (const a of spec.options) if (given[a.name] !== undefined) options[a.name] = checkArgument(name, a, given[a.name]);
    values.push(options);
  }
  let value: unknown;
  try {
    value = spec.call ? await spec.call(c, ...values) : await (c.host[spec.verb!] as (...a: unknown[]) => Promise<unknown>).apply(c.host, values);
  } catch (e) {
    throw asRequestError(e);
  }
  const event = spec.event && who && { name: spec.event, data: { partition: who.id, name: who.name, ...options } };
  return { command: name, value: value ?? {}, ...(who ? { partition: who.id } : {}), ...(event ? { event } : {}) };
}

/** The partition `v` (an id or a name) names; PartitionNotFound, or undefined for a target that may be a directory. */
async function findPartition(h: HostController, v: number | string, a: ArgSpec): Promise<PartitionInfo | undefined> {
  let list: PartitionInfo[];
  try {
    list = await h.list();
  } catch (e) {
    throw asRequestError(e);
  }
  const p = list.find((q) => (typeof v === 'number' ? q.id === v : q.name === v));
  if (p || (a.type === 'target' && typeof v === 'string')) return p;
  const have = list.map((q) => `${q.id} (${q.name})`).join(', ') || 'none';
  throw new ControlRequestError('PartitionNotFound', `no partition ${JSON.stringify(v)} (partitions: ${have})`);
}

/** JavaScript's own error classes: thrown by a bug, not by a bad request. */
const BUILTIN = new Set(['Error', 'TypeError', 'ReferenceError', 'SyntaxError', 'EvalError', 'URIError', 'AggregateError']);

const BY_NAME: Record<string, ErrorClass> = {
  ControlError: 'Refused',
  // The host's limits (memory, partitions, vCPUs).
  RangeError: 'Refused',
  MigrationError: 'MigrationFailed',
};

/**
 * A verb's error as a request error. Errors cross from the root's thread by
 * name (host.ts revives a few classes): the runtime's named errors
 * (InputError and its kinds: VhdError, SnapshotError, ...) are about a file
 * or a value the request named; JavaScript's own ones are bugs.
 */
export function asRequestError(e: unknown): ControlRequestError {
  if (e instanceof ControlRequestError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const cls = BY_NAME[err.name] ?? (e instanceof InputError || !BUILTIN.has(err.name) ? 'InputError' : 'InternalError');
  return new ControlRequestError(cls, err.message.replace(/\s*[\r\n]+\s*/g, ' '), { cause: e });
}
