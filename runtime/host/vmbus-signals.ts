// The root's watch over its partitions' VMBus event areas (threaded host).
// A guest's signal_event sets its connection's bit in the partition's event
// area and, when the bit was clear, bumps and Atomics-notifies the area's
// doorbell (kernel/hypercall/synic.ts); it does not exit (the partition's
// VmbusHost has exitOnSignal off). The root's service loop looks at every
// doorbell beside its exit doorbell, and sleeps on all of them together, so
// a channel's host end drains the ring straight from shared memory while
// the guest's vCPU runs on: no VM exit on the data path.
import type { VmbusHost } from '../../drivers/vmbus/host.ts';

export class VmbusSignals {
  /** The doorbell value each VmbusHost was last served at (a rebooted or restored partition has a new VmbusHost). */
  private readonly seen = new WeakMap<VmbusHost, number>();
  /** The wait armed on each doorbell, reused while it is pending: one waiter per doorbell, not one per sleep. */
  private readonly armed = new WeakMap<VmbusHost, { at: number; done: boolean; wait: Promise<void> }>();

  /**
   * Serves the hosts whose doorbell moved since last time: the connections
   * signalled go to their channels' devices. True if any had. The doorbell
   * is read before the signals are taken, so a signal racing with this
   * moves it again and is served next time, never lost.
   */
  serve(hosts: Iterable<VmbusHost>): boolean {
    let any = false;
    for (const h of hosts) {
      const bell = h.doorbell();
      if (this.seen.get(h) === bell) continue;
      this.seen.set(h, bell);
      h.poll();
      any = true;
    }
    return any;
  }

  /** True if a doorbell moved since serve() (the root's spin checks this beside its exit doorbell). */
  rang(hosts: Iterable<VmbusHost>): boolean {
    for (const h of hosts) if (this.seen.get(h) !== h.doorbell()) return true;
    return false;
  }

  /** One wait per host's doorbell, each resolving once it moves past what serve() saw, or after `ms`. */
  waits(hosts: Iterable<VmbusHost>, ms: number): Promise<void>[] {
    const out: Promise<void>[] = [];
    for (const h of hosts) {
      const at = this.seen.get(h) ?? h.doorbell();
      let a = this.armed.get(h);
      if (!a || a.done || a.at !== at) {
        const armed = { at, done: false, wait: h.waitSignal(at, ms) };
        void armed.wait.finally(() => (armed.done = true));
        this.armed.set(h, (a = armed));
      }
      out.push(a.wait);
    }
    return out;
  }
}
