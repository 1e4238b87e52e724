// `hv serve`'s console input: what is typed goes to the partition that
// arrived last, from the moment its start is asked for. What is typed
// while none has arrived yet waits for the first and goes in ahead of its
// start: it is not dropped (it was until the first had started and said
// DONE). The guest's UART queues host input without limit
// (drivers/emulated/uart16550.ts), so a partition created but not started
// takes it.

/** Bytes kept for a partition not here yet; past this, the oldest go (a pipe with no guest to read it). */
const HELD_MAX = 64 << 10;

export class IncomingConsole {
  private id: number | undefined;
  private held: Uint8Array[] = [];
  private heldBytes = 0;

  constructor(private readonly input: (id: number, bytes: Uint8Array) => void) {}

  /** Bytes typed at the host's console. */
  type(bytes: Uint8Array): void {
    if (this.id !== undefined) {
      this.input(this.id, bytes);
      return;
    }
    this.held.push(bytes);
    this.heldBytes += bytes.length;
    while (this.heldBytes > HELD_MAX) this.heldBytes -= this.held.shift()!.length;
  }

  /**
   * Partition `id` is about to start: it has the console from now on, what
   * was held first. Called before its start is asked for, so that no byte
   * typed around its start falls between the two.
   */
  starting(id: number): void {
    this.id = id;
    for (const bytes of this.held.splice(0)) this.input(id, bytes);
    this.heldBytes = 0;
  }
}
