// The control channel of a running host (`hv run --control PATH`, `hv serve
// --control PATH`; docs/control.md): a Unix domain socket speaking JSON
// lines (protocol.ts), one Session per client, every command a
// HostController verb (commands.ts). Events go to every client: partitions
// appearing and finishing (followed through HostController.wait), and what
// commands did (paused, resumed, a guest shutdown accepted).
//
//   const control = await ControlServer.listen({ path, host, kind: 'run', quit });
//   control.refresh();          // after creating partitions: follow them
//   ...
//   await control.close();      // host-shutdown to every client, socket removed
import { createServer, type Server, type Socket } from 'node:net';
import type { HostController } from '../host/controller.ts';
import { COMMANDS } from './commands.ts';
import type { Outcome } from './dispatch.ts';
import { encodeLine, EVENTS, PROTOCOL, PROTOCOL_VERSION, type EventName, type Greeting } from './protocol.ts';
import { Session } from './session.ts';
import { claimSocketPath, listenPrivate, releaseSocketPath } from './socket-path.ts';

/** Clients at once; one more is told Busy and closed. */
export const MAX_CLIENTS = 64;

/**
 * How long close() (and successor()) let commands in flight answer: a migration's answer
 * comes after its partition ended here (the target's DONE, at most 10 s
 * after RDY), so when its partition ending ends the run, the client still
 * gets it.
 */
export const CLOSE_GRACE_MS = 10_000;

export interface ControlServerOptions {
  path: string;
  host: HostController;
  /** The command serving: 'run' or 'serve' (in the greeting). */
  kind: string;
  /** The quit command: end the host. Called after every client got its reply and host-shutdown. */
  quit: () => void;
}

export class ControlServer {
  private readonly sessions = new Set<Session>();
  /** Partitions followed: their name, and whether their end was told. */
  private readonly watched = new Map<number, { name: string; told: boolean }>();
  /** Partitions a command (revert) replaced, by the id of the one it replaced. */
  private readonly replaced = new Map<number, number>();
  private closing: Promise<void> | undefined;
  private readonly onExit = () => releaseSocketPath(this.path);

  private constructor(
    private readonly server: Server,
    readonly path: string,
    private readonly o: ControlServerOptions,
  ) {
    server.on('connection', (socket) => this.accept(socket));
    // process.exit() (Ctrl-A x, a signal) skips close(): the file goes anyway.
    process.on('exit', this.onExit);
  }

  /** Listens on `o.path` (a stale socket there is replaced); InputError if it cannot. */
  static async listen(o: ControlServerOptions): Promise<ControlServer> {
    await claimSocketPath(o.path);
    const server = createServer();
    await listenPrivate(server, o.path);
    const control = new ControlServer(server, o.path, o);
    control.refresh();
    return control;
  }

  /** Follows partitions the host has now that it did not: partition-added, then their end. */
  refresh(): void {
    this.o.host.list().then((list) => {
      for (const p of list) if (!this.watched.has(p.id)) this.watch(p.id, p.name);
    }, () => {});
  }

  /** Sends an event to every client. */
  emit(event: EventName, data: Record<string, unknown>): void {
    const now = Date.now();
    const message = { event, data, timestamp: { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 } };
    for (const s of this.sessions) s.send(message);
  }

  /**
   * host-shutdown to every client (after the answers of commands in flight
   * and the end of every partition that ended), then the socket goes.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.server.close();
      await this.settled();
      // A partition's end may not have come through wait() yet: the list has it.
      try {
        for (const p of await this.o.host.list()) if (p.result) this.ended(p.id, p.name, p.result);
      } catch {
        // the host is gone already
      }
      this.emit('host-shutdown', {});
      await Promise.all([...this.sessions].map((s) => s.end()));
      releaseSocketPath(this.path);
      process.off('exit', this.onExit);
    })();
    return this.closing;
  }

  /**
   * The partition a command through this socket put in `id`'s place (a
   * revert), once the commands in flight answered; undefined if none did.
   * A host that waits for its partitions (hv run, hv serve) asks this when
   * one ended, and runs on with its successor.
   */
  async successor(id: number): Promise<number | undefined> {
    await this.settled();
    const next = this.replaced.get(id);
    this.replaced.delete(id);
    return next;
  }

  /** Resolves once every command in flight answered, or after CLOSE_GRACE_MS. */
  private async settled(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.sessions].map((s) => s.idle())),
      new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS))),
    ]);
    clearTimeout(timer);
  }

  private accept(socket: Socket): void {
    if (this.closing || this.sessions.size >= MAX_CLIENTS) {
      socket.on('error', () => {});
      socket.end(encodeLine({ error: { class: 'Busy', desc: this.closing ? 'the host is shutting down' : `at most ${MAX_CLIENTS} clients at once` } }));
      return;
    }
    // quit: once this command's reply is written (it is, before the next turn of the event loop).
    const context = { host: this.o.host, quit: () => void setImmediate(() => void this.close().then(this.o.quit)) };
    const session = new Session(socket, context, (o) => this.done(o));
    this.sessions.add(session);
    socket.on('close', () => this.sessions.delete(session));
    const greeting: Greeting = {
      greeting: { protocol: PROTOCOL, version: PROTOCOL_VERSION, host: this.o.kind, pid: process.pid, commands: Object.keys(COMMANDS), events: EVENTS },
    };
    session.send(greeting);
  }

  private done(o: Outcome): void {
    if (o.event) this.emit(o.event.name, o.event.data);
    if (COMMANDS[o.command]?.replaces && o.partition !== undefined && typeof o.value === 'number') this.replaced.set(o.partition, o.value);
    this.refresh(); // a revert or restore made a partition
  }

  private watch(id: number, name: string): void {
    this.watched.set(id, { name, told: false });
    this.emit('partition-added', { partition: id, name });
    this.o.host.wait(id).then((result) => this.ended(id, name, result), () => {});
  }

  private ended(id: number, name: string, result: { kind: string }): void {
    const w = this.watched.get(id);
    if (w?.told) return;
    this.watched.set(id, { name, told: true });
    this.emit(result.kind === 'migrated' ? 'partition-migrated' : 'partition-stopped', { partition: id, name, result });
  }
}
