// `npm run bench -- vswitch`: guest-to-guest round trips through the root's
// virtual switch, against the same exchange without guests, in one run.
//  - guests: vmbus-ping sends vmbus-pong N ICMP echo requests, each after
//    the last one's reply (pings=N, echoes=N on their command lines), timed
//    by ping's own clock (time CSR, 10 MHz) around the echoes only; on the
//    threaded host (each partition on a pCPU thread, both NICs and the switch
//    on the root partition's thread) and on the deterministic host (all of
//    it on one thread, vCPUs round-robin);
//  - reference: the same 60-byte frames through the same NetvscDevice and
//    VirtualSwitch code driven from the host (test/support/netvsc-guest.ts):
//    each round trip is the four ring packets the two guests write (ping's
//    SEND_RNDIS_PKT, pong's completion of the transfer-page packet, pong's
//    reply, ping's completion) and the host's packets read back. What the
//    path costs with no guest code, no exits and no wake-ups: the ceiling.
import { VirtualSwitch } from '../drivers/net/vswitch.ts';
import { Host } from '../runtime/host/host.ts';
import { Hypervisor } from '../runtime/host/hypervisor.ts';
import type { PartitionSpec } from '../runtime/host/spec.ts';
import { readVmConfig } from '../runtime/config/vm-config.ts';
import { setupPartition, specHostBytes } from '../runtime/machine/setup.ts';
import { frame, nic, rndisPacket, type GuestNic } from '../test/support/netvsc-guest.ts';
import { vmbusWorld } from '../test/support/vmbus-guest.ts';

const CONFIG = 'guests/enlightened/vmbus-net.json';
const MTIME_HZ = 10_000_000;
const GUEST_ROUND_TRIPS = 5000;
const HOST_ROUND_TRIPS = 50_000;
/** An ICMP echo of vmbus-ping's: Ethernet, IPv4, ICMP headers and 18 bytes of data. */
const FRAME_BYTES = 14 + 20 + 8 + 18;

interface GuestRun {
  seconds: number;
  /** VM exits of both partitions per round trip (threaded host), set-up included. */
  exitsPerTrip?: number;
}

/** vmbus-net.json's two guests, sized to `n` round trips. */
function specs(n: number): PartitionSpec[] {
  const [ping, pong] = readVmConfig(CONFIG).partitions;
  return [{ ...ping!, append: `pings=${n}` }, { ...pong!, append: `echoes=${n}` }];
}

/** Ping's own figure: "ping: N of N answered in TICKS ticks". */
function seconds(out: string, n: number): number {
  const m = /ping: (\d+) of (\d+) answered in (\d+) ticks/.exec(out);
  if (!m || Number(m[1]) !== n) throw new Error(`vmbus-ping did not finish its ${n} echoes: ${out}`);
  return Number(m[3]) / MTIME_HZ;
}

async function threaded(n: number): Promise<GuestRun> {
  const s = specs(n);
  const host = await Host.start({ pcpus: 2, memoryBytes: s.reduce((b, p) => b + specHostBytes(p), 0) + (4 << 20) });
  try {
    const out = ['', ''];
    const ids: number[] = [];
    for (const [i, spec] of s.entries()) ids.push(await host.create(spec, (b) => (out[i] += Buffer.from(b).toString('latin1'))));
    for (const id of ids) await host.start(id);
    for (const id of ids) await host.wait(id);
    let exits = 0;
    for (const id of ids) for (const v of (await host.stats(id)).vcpuStats) exits += v.exits.mmio + v.exits.sbi + v.exits.htif + v.exits.other;
    return { seconds: seconds(out[0]!, n), exitsPerTrip: exits / n };
  } finally {
    await host.close();
  }
}

async function deterministic(n: number): Promise<GuestRun> {
  const s = specs(n);
  const hv = new Hypervisor(s.reduce((b, p) => b + specHostBytes(p), 0));
  const out = ['', ''];
  s.forEach((spec, i) => setupPartition(spec, hv, { onConsole: (b) => (out[i] += Buffer.from(b).toString('latin1')) }));
  await hv.run({ timeoutMs: 120_000 });
  return { seconds: seconds(out[0]!, n) };
}

/** The reference: `n` round trips of two host-driven NICs on one switch; seconds. */
function hostOnly(n: number): number {
  const w = vmbusWorld(4 << 20);
  const sw = new VirtualSwitch();
  const [a, b] = [nic(w, sw, 0), nic(w, sw, 1)];
  const request = rndisPacket(frame(b.mac, a.mac, FRAME_BYTES, 1));
  const reply = rndisPacket(frame(a.mac, b.mac, FRAME_BYTES, 2));
  /** `from` sends its message; `to` takes the frame and completes it; both rings emptied. */
  const hop = (from: GuestNic, to: GuestNic, msg: Uint8Array) => {
    from.send(from.viaSection(msg));
    from.take(); // the SEND_RNDIS_PKT completion
    const got = to.frames(to.take());
    if (got.length !== 1) throw new Error(`reference: ${got.length} frames arrived`);
    to.send(to.complete(got[0]!.transId));
  };
  for (let i = 0; i < 1000; i++) (hop(a, b, request), hop(b, a, reply)); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < n; i++) (hop(a, b, request), hop(b, a, reply));
  return (performance.now() - t0) / 1000;
}

async function best(runs: number, f: () => Promise<GuestRun>): Promise<GuestRun> {
  let b: GuestRun | undefined;
  for (let i = 0; i < runs; i++) {
    const r = await f();
    if (!b || r.seconds < b.seconds) b = r;
  }
  return b!;
}

export async function benchVswitch(): Promise<void> {
  console.log(`vswitch: ICMP echo round trips between two guests through the virtual switch (${FRAME_BYTES}-byte frames, one in flight), best of 3`);
  let ref = Infinity;
  for (let i = 0; i < 3; i++) ref = Math.min(ref, hostOnly(HOST_ROUND_TRIPS));
  const refRate = HOST_ROUND_TRIPS / ref;
  console.log('  path                                     | round trips/s |   µs/trip | VM exits/trip | of the reference');
  const row = (label: string, rate: number, exits?: number) =>
    console.log(
      `  ${label.padEnd(40)} | ${rate.toFixed(0).padStart(13)} | ${(1e6 / rate).toFixed(2).padStart(9)} | ${(exits === undefined ? '-' : exits.toFixed(2)).padStart(13)} | ${((100 * rate) / refRate).toFixed(1)}%`,
    );
  row('reference: host-driven rings, no guest', refRate);
  const t = await best(3, () => threaded(GUEST_ROUND_TRIPS));
  row('guests, threaded host (2 pCPUs)', GUEST_ROUND_TRIPS / t.seconds, t.exitsPerTrip);
  const d = await best(3, () => deterministic(GUEST_ROUND_TRIPS));
  row('guests, deterministic host (1 thread)', GUEST_ROUND_TRIPS / d.seconds);
}
