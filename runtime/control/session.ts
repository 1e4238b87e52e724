// One client of the control socket: reads its request lines, runs them one
// after another (replies come in request order, as QMP's), and writes the
// replies and the server's events. Nothing a client sends can throw out of
// here: a bad line is an error reply, a client that goes away mid-command
// has its reply dropped, and the command still completes on the host.
import type { Socket } from 'node:net';
import type { CommandContext } from './commands.ts';
import { dispatch, type Outcome } from './dispatch.ts';
import { ControlRequestError, encodeLine, LineReader, MAX_REQUEST_BYTES, type Reply, type Request, type RequestId } from './protocol.ts';

/** Requests one client may have waiting behind the one running. */
export const MAX_QUEUED = 32;

/**
 * Replies and events written to a client and not read by it yet: past
 * this the client is dropped. One that asks and never reads (or follows
 * events and stops reading) would otherwise hold the host's memory.
 */
export const MAX_UNREAD_BYTES = 4 << 20;

export class Session {
  private readonly queue: Request[] = [];
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly context: CommandContext,
    /** Called with what each command did (its event goes to every client). */
    private readonly done: (o: Outcome) => void,
  ) {
    const lines = new LineReader(MAX_REQUEST_BYTES, (l) => this.line(l), () =>
      this.fail(undefined, new ControlRequestError('LineTooLong', `a request line is at most ${MAX_REQUEST_BYTES} bytes; skipped to its end`)),
    );
    socket.on('data', (chunk: Buffer) => lines.push(chunk));
    // A client that resets or vanishes: its socket closes, and that is all.
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.queue.length = 0;
    });
  }

  /** Writes one message, unless the client is gone; drops a client that stopped reading. */
  send(message: unknown): void {
    if (this.closed || !this.socket.writable) return;
    if (this.socket.writableLength > MAX_UNREAD_BYTES) {
      this.socket.destroy();
      return;
    }
    this.socket.write(encodeLine(message));
  }

  /** Flushes what was written and closes; resolves once closed (or after `ms`). */
  end(ms = 1000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, ms);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end();
    });
  }

  private line(text: string): void {
    let request: Request;
    try {
      request = parseRequest(text);
    } catch (e) {
      this.fail(idOf(text), e as ControlRequestError);
      return;
    }
    if (this.queue.length >= MAX_QUEUED) {
      this.fail(request.id, new ControlRequestError('Busy', `at most ${MAX_QUEUED} requests may wait on one connection`));
      return;
    }
    this.queue.push(request);
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  /** Resolves once the commands this client asked for have all answered. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    for (let r = this.queue.shift(); r; r = this.queue.shift()) {
      try {
        const outcome = await dispatch(this.context, r);
        this.send({ ...withId(r.id), return: outcome.value } satisfies Reply);
        this.done(outcome);
      } catch (e) {
        // dispatch() throws request errors only; anything else is a bug, still an answer.
        this.fail(r.id, e instanceof ControlRequestError ? e : new ControlRequestError('InternalError', String((e as Error)?.message ?? e)));
      }
    }
  }

  private fail(id: RequestId | undefined, e: ControlRequestError): void {
    this.send({ ...withId(id), error: { class: e.errorClass, desc: e.message } } satisfies Reply);
  }
}

const withId = (id: RequestId | undefined) => (id === undefined ? {} : { id });

/** A request line as a Request, or BadRequest saying what is wrong with it. */
export function parseRequest(text: string): Request {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ControlRequestError('BadRequest', `not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ControlRequestError('BadRequest', 'a request is a JSON object {"execute":...}');
  const { id, execute, arguments: args, ...rest } = v as Record<string, unknown>;
  if (id !== undefined && typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id))) {
    throw new ControlRequestError('BadRequest', '"id" is a string or a number');
  }
  if (typeof execute !== 'string') throw new ControlRequestError('BadRequest', 'a request names its command in "execute"');
  if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) {
    throw new ControlRequestError('BadRequest', '"arguments" is an object');
  }
  const extra = Object.keys(rest);
  if (extra.length) throw new ControlRequestError('BadRequest', `unknown field "${extra[0]}" (a request has id, execute, arguments)`);
  return { ...withId(id as RequestId | undefined), execute, ...(args ? { arguments: args as Record<string, unknown> } : {}) };
}

/** The id of a request that did not parse as one, when it has a usable one: the client can match the error. */
function idOf(text: string): RequestId | undefined {
  try {
    const id = (JSON.parse(text) as { id?: unknown })?.id;
    return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : undefined;
  } catch {
    return undefined;
  }
}
