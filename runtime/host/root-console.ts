// Console output of a threaded host's partitions, from the root partition's
// thread to the host's console channel: one ordered channel for every
// partition created without a sink of its own, messages
// { batch: { id, bytes }[] } and { barrier }.
import type { ConsoleSink } from './controller.ts';

export interface ConsolePort {
  postMessage(message: unknown): void;
}

export class ConsoleChannel {
  /** Output on its way: { id, bytes } in the order printed. */
  private outbox: { id: number; bytes: Uint8Array }[] = [];

  constructor(private readonly port: ConsolePort | undefined) {}

  /** Where partition `id()`'s console goes: `console` if given, else this channel (nowhere without a port). */
  sink(console: ConsoleSink | undefined, id: () => number): ConsoleSink {
    const port = this.port;
    return console ?? (port ? (bytes) => this.outbox.push({ id: id(), bytes }) : () => {});
  }

  /**
   * Posts every partition's output since the last flush as one message: a
   * message per partition per poll was most of the root's time with 1,000
   * partitions printing (docs/memory.md, "Density").
   */
  flush(): void {
    if (this.outbox.length === 0) return;
    this.port?.postMessage({ batch: this.outbox });
    this.outbox = [];
  }

  /** Posts `{ barrier: token }`: everything written before it has arrived when it does. */
  barrier(token: number): void {
    this.flush();
    this.port?.postMessage({ barrier: token });
  }
}
