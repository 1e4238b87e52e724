// A RandomAccessFile that "crashes": it counts mutating calls (write,
// truncate) and throws Crash instead of performing call number `crashAt`
// (and every call after it). What survives the crash is either every
// mutation performed (ordered, stop-at-a-write model) or, in the harsher
// model, what was synced plus any subset of the mutations since the last
// sync (the OS may have written back some of them, in any order).
import { MemoryFile, type RandomAccessFile } from '../../../drivers/block/file.ts';

export class Crash extends Error {
  constructor() {
    super('simulated crash');
  }
}

type Mutation = { kind: 'write'; pos: number; data: Uint8Array } | { kind: 'truncate'; size: number };

function apply(file: MemoryFile, m: Mutation): void {
  if (m.kind === 'write') file.write(m.data, m.pos);
  else file.truncate(m.size);
}

/** Mutation counter shared by the files of one run (a chain crashes as one process). */
export class Clock {
  count = 0;
  crashed = false;
  constructor(readonly crashAt = Infinity) {}
  tick(): void {
    if (this.crashed || this.count >= this.crashAt) {
      this.crashed = true;
      throw new Crash();
    }
    this.count++;
  }
}

export class FaultyFile implements RandomAccessFile {
  private readonly live: MemoryFile;
  private readonly synced: MemoryFile;
  private unsynced: Mutation[] = [];

  constructor(
    initial: Uint8Array,
    readonly clock: Clock,
  ) {
    this.live = new MemoryFile(initial);
    this.synced = new MemoryFile(initial);
  }

  read(buf: Uint8Array, pos: number): number {
    return this.live.read(buf, pos);
  }
  write(buf: Uint8Array, pos: number): void {
    this.clock.tick();
    const m: Mutation = { kind: 'write', pos, data: buf.slice() };
    apply(this.live, m);
    this.unsynced.push(m);
  }
  size(): number {
    return this.live.size();
  }
  truncate(size: number): void {
    this.clock.tick();
    const m: Mutation = { kind: 'truncate', size };
    apply(this.live, m);
    this.unsynced.push(m);
  }
  sync(): void {
    if (this.clock.crashed) throw new Crash();
    for (const m of this.unsynced) apply(this.synced, m);
    this.unsynced = [];
  }
  close(): void {}

  /** The file after the crash if every performed mutation reached the disk. */
  afterOrderedCrash(): Uint8Array {
    return this.live.contents();
  }

  /** The file after the crash if only the unsynced mutations `keep` chooses reached the disk. */
  afterLossyCrash(keep: (index: number) => boolean): Uint8Array {
    const out = new MemoryFile(this.synced.contents());
    this.unsynced.forEach((m, i) => {
      if (keep(i)) apply(out, m);
    });
    return out.contents();
  }

  get unsyncedCount(): number {
    return this.unsynced.length;
  }
}
