// The Linux guest (guests/linux/build.sh) for tests: where its build is,
// and a shell session on its serial console driven like a person would.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConsoleSession } from './session.ts';

export const OPENSBI = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin';

/** The built kernel Image, or undefined when this machine has not built it (run guests/linux/build.sh). */
export function linuxImage(): string | undefined {
  let dir: string;
  try {
    dir = execFileSync('sh', ['guests/linux/build.sh', '--path'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
  const image = join(dir, 'Image');
  return existsSync(image) ? image : undefined;
}

/** The busybox shell's prompt (guests/linux/profile), at the start of a line. */
export const PROMPT = /(^|\n)hv:[^\n#]*# $/;

/** Resolves once `done()` holds, looking every `everyMs`; rejects after `ms` with `what()`. */
export async function until(done: () => boolean, ms: number, what: () => string, everyMs = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Generous: a loaded 2-core machine boots Linux many times slower than an idle one. */
const BOOT_MS = 240_000;
const COMMAND_MS = 60_000;

/** `hv run` of the Linux guest with a shell on its console. */
export class LinuxSession {
  readonly console: ConsoleSession;

  constructor(args: string[] | ConsoleSession, command: 'run' | 'restore' | 'serve' = 'run') {
    this.console = args instanceof ConsoleSession ? args : ConsoleSession.hv([command, ...args]);
  }

  /** The same guest under `qemu-system-riscv64 args` (its serial console on stdio, -nographic). */
  static qemu(args: string[]): LinuxSession {
    return new LinuxSession(new ConsoleSession('qemu-system-riscv64', args));
  }

  /** `hv restore` of a Linux guest saved with `hv run --save FILE` (at its prompt). */
  static restore(file: string, args: string[] = []): LinuxSession {
    return new LinuxSession([file, ...args], 'restore');
  }

  /** `hv serve [args]`: the target of a live migration; its session is the incoming guest's console. */
  static serve(args: string[] = []): LinuxSession {
    return new LinuxSession(args, 'serve');
  }

  /** Boots with OpenSBI's fw_jump (or `-bios hv`) and the rest of `args` (-smp, --paging, -drive...). */
  static boot(image: string, firmware: 'opensbi' | 'hv', args: string[] = []): LinuxSession {
    return new LinuxSession(['-bios', firmware === 'hv' ? 'hv' : OPENSBI, '-kernel', image, ...args]);
  }

  get output(): string {
    return this.console.output;
  }

  /** Waits for the shell prompt after output position `from`. */
  async prompt(from = 0, timeoutMs = BOOT_MS): Promise<void> {
    await this.console.waitFor(PROMPT, timeoutMs, from);
  }

  /** Types a command line at the prompt and returns what it printed (the echoed line and the next prompt removed). */
  async run(command: string, timeoutMs = COMMAND_MS): Promise<string> {
    const from = this.console.output.length;
    this.console.type(command + '\n');
    await this.console.waitFor(new RegExp(`${escape(command)}\\r?\\n(?:[\\s\\S]*\\n)?hv:[^\\n#]*# $`), timeoutMs, from);
    // Without carriage returns and terminal escapes (busybox ls colours its output).
    const text = this.console.output.slice(from).replace(/\r/g, '').replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
    const start = text.indexOf(command + '\n') + command.length + 1;
    return text.slice(start).replace(/hv:[^\n#]*# $/, '');
  }

  /**
   * Makes an ext2 file system on /dev/vda, mounts it on /mnt, and starts a
   * background loop appending the numbers 1..`lines` to /mnt/log, one line
   * each, with a sync after every line. Resolves once a quarter of the lines
   * are on the disk: the moment to snapshot or migrate the guest mid-loop.
   */
  async startDiskLog(lines: number): Promise<void> {
    await this.run('mke2fs -q /dev/vda && mount -t ext2 /dev/vda /mnt');
    // Short lines: the console wraps at 80 columns. "mid" once a quarter of the lines are on the disk.
    await this.run('L=/mnt/log');
    const from = this.output.length;
    await this.run(`seq ${lines}|while read i;do echo $i>>$L;sync;[ $i = ${lines / 4} ]&&echo mid;done&`);
    await this.console.waitFor(/mid\r?\n/, 120_000, from);
  }

  /**
   * Waits for the loop of startDiskLog (started here, or in the guest this one
   * was snapshotted or migrated from), then unmounts /mnt: how many lines
   * /mnt/log holds, and how many of them appear more than once.
   */
  async finishDiskLog(): Promise<{ lines: number; duplicated: number }> {
    const [lines, duplicated] = (await this.run('wait; wc -l < /mnt/log; sort /mnt/log | uniq -d | wc -l')).split('\n').map(Number);
    await this.run('umount /mnt');
    return { lines: lines!, duplicated: duplicated! };
  }

  /** Types `poweroff` and resolves with hv's exit status. */
  async poweroff(): Promise<number | null> {
    this.console.type('poweroff\n');
    return this.console.exited;
  }

  kill(): void {
    this.console.kill();
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
