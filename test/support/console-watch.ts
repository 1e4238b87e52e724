// A threaded partition's console in a test: what it printed so far, and a
// wait for the `times`th `marker`. A guest that ends before printing it
// fails the wait at once with what it printed (a test waiting for it would
// otherwise hang until its timeout).
import type { Host } from '../../runtime/host/host.ts';

export interface WatchedConsole {
  out: string;
  /** The partition, once created (`con.id = await host.create(spec, con.sink)`). */
  id: number;
  /** The console sink to give host.create. */
  sink: (bytes: Uint8Array) => void;
  printed: (marker: string, times?: number) => Promise<void>;
}

export function watchConsole(host: Host): WatchedConsole {
  const waiting: { marker: string; times: number; resolve: () => void }[] = [];
  const seen = (marker: string, times: number) => con.out.split(marker).length - 1 >= times;
  const con: WatchedConsole = {
    out: '',
    id: -1,
    sink: (b) => {
      con.out += Buffer.from(b).toString('latin1');
      for (const w of waiting.filter((w) => seen(w.marker, w.times))) waiting.splice(waiting.indexOf(w), 1) && w.resolve();
    },
    printed: (marker, times = 1) =>
      new Promise<void>((resolve, reject) => {
        if (seen(marker, times)) return resolve();
        waiting.push({ marker, times, resolve });
        void host.wait(con.id).then((r) => reject(new Error(`partition ${con.id} ended (${JSON.stringify(r)}) before printing ${JSON.stringify(marker)}:\n${con.out}`)));
      }),
  };
  return con;
}
