// Drives `hv` (or any console program) like a person at a terminal: wait for
// text to appear, type, wait again.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export class ConsoleSession {
  private out = '';
  private readonly child: ChildProcessWithoutNullStreams;
  private waiters: Array<() => void> = [];
  readonly exited: Promise<number | null>;

  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const feed = (b: Buffer) => {
      this.out += b.toString('latin1');
      for (const w of this.waiters) w();
    };
    this.child.stdout.on('data', feed);
    this.child.stderr.on('data', feed);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  static hv(args: string[]): ConsoleSession {
    return new ConsoleSession(process.execPath, ['bin/hv.js', ...args]);
  }

  get output(): string {
    return this.out;
  }

  /** Resolves with the output so far once `pattern` appears after `from`; rejects on timeout. */
  waitFor(pattern: RegExp | string, timeoutMs = 30_000, from = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const tail = this.out.slice(from);
        if (typeof pattern === 'string' ? tail.includes(pattern) : pattern.test(tail)) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve(this.out);
        }
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${pattern}; output so far:\n${this.out.slice(-2000)}`));
      }, timeoutMs);
      this.waiters.push(check);
      check();
    });
  }

  type(text: string): void {
    this.child.stdin.write(text);
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }
}
