// `hv control`: drive a running host through its control socket (hv run
// --control PATH, hv serve --control PATH; docs/control.md), as virsh
// drives libvirt or qmp-shell QEMU.
//
//   hv control PATH COMMAND [ARGS...] [--OPTION [VALUE]]... [--json]
//   hv control PATH --events [--json]       follow the host's events until it ends
//
// Arguments are the command's in order (commands.ts); a partition is its
// id or name; relative paths are made absolute here (the host's working
// directory is not ours). Exit status: 0, 1 when the host answered with an
// error (or went away while followed), 2 on bad usage or when no host answers.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ControlClient, ControlConnectionError, ControlReplyError } from '../control/client.ts';
import { COMMANDS, commandNamed, type CommandSpec } from '../control/commands.ts';
import type { ArgSpec } from '../control/arguments.ts';
import { encodeLine } from '../control/protocol.ts';
import { parseArgs, type OptionSpec } from './args.ts';
import { InputError, UsageError } from './errors.ts';
import { formatEvent, formatReply, kebab } from './control-format.ts';

const GLOBAL = { json: { value: false }, events: { value: false }, help: { value: false }, h: { value: false } } as const;

function help(): string {
  // A synopsis too long for its column puts the help on a line of its own.
  const lines = Object.entries(COMMANDS).map(([name, c]) => {
    const text = synopsis(name, c);
    const help = c.help + (c.aliases ? ` (also: ${c.aliases.join(', ')})` : '');
    return text.length < 44 ? `  ${text.padEnd(44)} ${help}` : `  ${text}\n  ${''.padEnd(44)} ${help}`;
  });
  return `usage: hv control PATH COMMAND [ARGS...] [--json]
       hv control PATH --events [--json]

Drives a host started with --control PATH (hv run, hv serve) through its
control socket (docs/control.md). A PARTITION is its id or name (list shows
them). --json prints the reply as JSON; --events follows the host's events
(partitions stopping, migrating, guests shutting down) until it ends.

commands:
${lines.join('\n')}

Exit status: 0; 1 when the host refused the command (one line on stderr) or,
with --events, went away without its host-shutdown; 2 on bad usage or when no
host listens on PATH.
`;
}

function synopsis(name: string, c: CommandSpec): string {
  const opts = (c.options ?? []).map((o) => `[--${kebab(o.name)}${o.type === 'boolean' ? '' : ` ${placeholder(o)}`}]`);
  return [name, ...(c.args ?? []).map((a) => a.name.toUpperCase()), ...opts].join(' ');
}

/** What an option's value looks like, by its type. */
function placeholder(a: ArgSpec): string {
  switch (a.type) {
    case 'size':
      return 'SIZE';
    case 'integer':
      return 'N';
    case 'choice':
      return a.choices!.join('|');
    case 'endpoint':
      return 'HOST:PORT';
    default:
      return kebab(a.name).toUpperCase();
  }
}

export async function controlCommand(argv: string[]): Promise<number> {
  // PATH and COMMAND are the first two words that are not global flags; the command's options follow it.
  const words = argv.filter((w) => !['--json', '-json', '--events', '-events', '-h', '--help'].includes(w));
  if (argv.some((w) => w === '-h' || w === '--help') || argv.length === 0) {
    process.stdout.write(help());
    return argv.length === 0 ? 2 : 0;
  }
  const [path, name] = words;
  if (path === undefined || path.startsWith('-')) throw new UsageError('give the control socket PATH first');
  if (argv.includes('--events') || argv.includes('-events')) {
    if (words.length > 1) throw new UsageError('--events takes no command');
    return followEvents(path, argv.includes('--json') || argv.includes('-json'));
  }
  if (name === undefined) throw new UsageError('no command given (hv control --help lists them)');
  if (name.startsWith('-')) throw new UsageError(`options go after the command: '${name}'`);
  const found = commandNamed(name);
  if (!found) throw new UsageError(`unknown command '${name}' (hv control --help lists them)`);
  const [command, spec] = found;
  const at = argv.indexOf(name, argv.indexOf(path) + 1);
  const { args, json } = commandArguments(command, spec, argv.slice(at + 1), argv.slice(0, at));
  const client = await connect(path);
  try {
    const value = await client.execute(command, args);
    process.stdout.write(json ? encodeLine(value) : formatReply(command, value));
    return 0;
  } catch (e) {
    if (e instanceof ControlReplyError) {
      process.stderr.write(`hv control: ${command}: ${e.errorClass}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof ControlConnectionError) throw new InputError(e.message);
    throw e;
  } finally {
    client.close();
  }
}

/** The words after COMMAND as its arguments; `before`: the global flags before it. */
function commandArguments(command: string, spec: CommandSpec, words: string[], before: string[]): { args: Record<string, unknown>; json: boolean } {
  const options: Record<string, OptionSpec> = { ...GLOBAL };
  for (const o of spec.options ?? []) options[kebab(o.name)] = { value: o.type !== 'boolean' };
  const parsed = parseArgs(words, options);
  const want = spec.args ?? [];
  if (parsed.positionals.length !== want.length) {
    throw new UsageError(`${command} takes ${want.length ? want.map((a) => a.name.toUpperCase()).join(' ') : 'no arguments'}${parsed.positionals.length > want.length ? `; '${parsed.positionals[want.length]}' is one too many` : ''}`);
  }
  const args: Record<string, unknown> = {};
  want.forEach((a, i) => (args[a.name] = fromWord(a, parsed.positionals[i]!)));
  for (const o of spec.options ?? []) {
    const v = parsed.options.get(kebab(o.name))?.[0];
    if (v !== undefined) args[o.name] = o.type === 'boolean' ? true : fromWord(o, v);
  }
  return { args, json: parsed.options.has('json') || before.some((w) => w === '--json' || w === '-json') };
}

/** A command-line word as the JSON value the argument takes; the host checks it. */
function fromWord(a: ArgSpec, word: string): unknown {
  const count = /^\d+$/.test(word) ? Number(word) : undefined;
  switch (a.type) {
    case 'partition':
    case 'integer':
      return count ?? word;
    case 'target': // a partition id, a name, or a directory of ours
      return count ?? (existsSync(word) ? resolve(word) : word);
    case 'path':
      return resolve(word);
    default:
      return word;
  }
}

async function connect(path: string): Promise<ControlClient> {
  try {
    return await ControlClient.connect(path);
  } catch (e) {
    if (e instanceof ControlConnectionError) throw new InputError(e.message);
    throw e;
  }
}

/**
 * Prints every event until the host closes the connection: 0 after its
 * host-shutdown, 1 (and a line) when the connection was lost without it
 * (the host was killed).
 */
async function followEvents(path: string, json: boolean): Promise<number> {
  const client = await connect(path);
  let shutdown = false;
  client.onEvent((e) => {
    shutdown ||= e.event === 'host-shutdown';
    process.stdout.write(json ? encodeLine(e) : formatEvent(e));
  });
  await new Promise<void>((done) => client.onClose(done));
  if (shutdown) return 0;
  process.stderr.write(`hv control: the host at '${path}' went away without shutting down\n`);
  return 1;
}
