// `hv`: the command-line entry point. Each subcommand lives in its own file
// and is loaded on demand; they all return the process exit status.
import { EXIT_USAGE, InputError, UsageError } from './errors.ts';

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  demo: {
    summary: 'boot a few toy guests in child partitions and show what they cost',
    load: async () => (await import('./demo.ts')).demoCommand,
  },
  run: { summary: 'run a guest ELF on the virt board', load: async () => (await import('./run.ts')).runCommand },
  restore: {
    summary: 'start a guest saved with hv run --save where it stopped',
    load: async () => (await import('./restore.ts')).restoreCommand,
  },
  serve: {
    summary: 'accept live-migrated partitions (hv run --migrate-to) and run them',
    load: async () => (await import('./serve.ts')).serveCommand,
  },
  control: {
    summary: 'drive a running host through its control socket (hv run --control PATH)',
    load: async () => (await import('./control.ts')).controlCommand,
  },
  snapshot: {
    summary: 'list, revert to, delete and clone live snapshots (hv run --snapshot-dir)',
    load: async () => (await import('./snapshot.ts')).snapshotCommand,
  },
  conformance: {
    summary: 'run every ELF in a directory (riscv-tests) and tabulate',
    load: async () => (await import('./conformance.ts')).conformanceCommand,
  },
  vhd: { summary: 'create, inspect, check and convert VHD disks', load: async () => (await import('./vhd.ts')).vhdCommand },
  dtb: { summary: "write the virt board's device tree blob", load: async () => (await import('./dtb.ts')).dtbCommand },
  playground: {
    summary: 'serve the browser playground (the hypervisor in a tab, with live pictures)',
    load: async () => (await import('./playground.ts')).playgroundCommand,
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return `usage: hv <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'hv <command> --help' for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? EXIT_USAGE : 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`hv: unknown command '${name}'\n${usage()}\n`);
    return EXIT_USAGE;
  }
  try {
    return await (await cmd.load())(rest);
  } catch (e) {
    if (e instanceof UsageError || e instanceof InputError) {
      // One line, whatever the message quotes (a file's text, an option's value).
      process.stderr.write(`hv ${name}: ${e.message.replace(/\s*[\r\n]+\s*/g, ' ')}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}
