// A client of the control socket (`hv control`, tests, scripts in
// TypeScript): connects, takes the greeting, runs commands and hands events
// to a listener.
//
//   const c = await ControlClient.connect('/tmp/hv.sock');
//   await c.execute('kvp-write', { partition: 1, key: 'K', value: 'V' });
//   c.onEvent((e) => console.log(e.event));
//   c.close();
import { connect, type Socket } from 'node:net';
import {
  encodeLine, LineReader, MAX_REPLY_BYTES, PROTOCOL, type ErrorClass, type EventMessage, type Greeting, type Reply,
} from './protocol.ts';

/** The host answered a command with an error reply. */
export class ControlReplyError extends Error {
  constructor(
    readonly errorClass: ErrorClass,
    message: string,
  ) {
    super(message);
    this.name = 'ControlReplyError';
  }
}

/** No host to talk to: the socket cannot be reached, or what answers is not one, or it went away. */
export class ControlConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ControlConnectionError';
  }
}

export class ControlClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners: ((e: EventMessage) => void)[] = [];
  private readonly closeListeners: (() => void)[] = [];
  private gone: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly greeting: Greeting['greeting'],
  ) {}

  /** Connects to the host at `path` and waits for its greeting. */
  static connect(path: string): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      let client: ControlClient | undefined;
      const fail = (why: string, cause?: unknown) => {
        const e = new ControlConnectionError(`control socket '${path}': ${why}`, { cause });
        if (client) client.lost(e);
        else reject(e);
        socket.destroy();
      };
      const lines = new LineReader(MAX_REPLY_BYTES, (line) => {
        let m: Record<string, unknown>;
        try {
          m = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return fail('the host sent a line that is not JSON');
        }
        if (client) return client.message(m);
        const g = (m as Partial<Greeting>).greeting;
        if (g?.protocol === PROTOCOL) {
          client = new ControlClient(socket, g);
          resolve(client);
        } else {
          const err = (m as { error?: { desc?: string } }).error;
          fail(err?.desc ?? 'what answers is not an hv control socket');
        }
      }, () => fail('the host sent a line longer than the client reads'));
      socket.on('data', (b: Buffer) => lines.push(b));
      socket.on('error', (e: NodeJS.ErrnoException) => fail(e.code === 'ENOENT' ? 'no such socket (is the host running with --control?)' : e.code === 'ECONNREFUSED' ? 'nobody listens on it' : (e.code ?? e.message), e));
      socket.on('close', () => (client ? client.lost(new ControlConnectionError(`control socket '${path}': the host closed the connection`)) : fail('the host closed the connection')));
    });
  }

  /** Runs `command`; resolves with its return value, rejects with ControlReplyError (or ControlConnectionError). */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (this.gone) return Promise.reject(this.gone);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.write(encodeLine({ id, execute: command, ...(args ? { arguments: args } : {}) }));
    });
  }

  /** Every event from now on. */
  onEvent(listener: (e: EventMessage) => void): void {
    this.listeners.push(listener);
  }

  /** Called once when the connection ends (the host closed it or went away). */
  onClose(listener: () => void): void {
    if (this.gone) listener();
    else this.closeListeners.push(listener);
  }

  close(): void {
    this.socket.end();
  }

  private message(m: Record<string, unknown>): void {
    if (typeof m.event === 'string') {
      for (const l of this.listeners) l(m as unknown as EventMessage);
      return;
    }
    const r = m as Reply;
    const p = typeof r.id === 'number' ? this.pending.get(r.id) : undefined;
    if (!p) return; // an error about a line that was not ours to match
    this.pending.delete(r.id as number);
    if ('error' in r) p.reject(new ControlReplyError(r.error.class, r.error.desc));
    else p.resolve(r.return);
  }

  private lost(e: Error): void {
    if (this.gone) return;
    this.gone = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    for (const l of this.closeListeners) l();
  }
}
