// A synthetic disk served by the threaded host's endpoint worker
// (runtime/host/endpoint-worker.ts) while the root does what it does to a
// running partition: the channel is taken back from the worker (its state
// and the disk with it) and lent again, and the guest never notices. The
// guest is disk-bench (guests/enlightened/disk-bench.c): sequential 4 KiB
// reads through storvsc, each a ring write and a signal the worker serves.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVhdFile } from '../../drivers/vhd/chain.ts';
import { Host } from '../../runtime/host/host.ts';
import { partitionSpec } from '../../runtime/host/spec.ts';
import { BIN } from '../support/enlightened.ts';
import { relidReleased } from '../support/relid.ts';

const dir = mkdtempSync(join(tmpdir(), 'hv-vmbus-worker-'));
let host: Host;
beforeAll(async () => {
  host = await Host.start({ pcpus: 2, memoryBytes: 256 << 20 });
});
afterAll(async () => {
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh 16 MiB dynamic VHD (disk-bench reads wrap around 16 MiB). */
function disk(name: string): string {
  const path = join(dir, name);
  createVhdFile(path, { size: 16 << 20, type: 'dynamic' });
  return path;
}

/** Starts disk-bench doing `reqs` reads of `path`; resolves once the worker has served some of them. */
async function startBench(name: string, path: string, reqs: number): Promise<{ id: number; out: () => string }> {
  const spec = partitionSpec(name, join(BIN, 'disk-bench.elf'), { boot: 'enlightened', memory: 32 << 20, append: `reqs=${reqs} size=4096`, disks: [{ path, if: 'vmbus' }] });
  let out = '';
  const before = (await host.endpointStats()).serves;
  const id = await host.create(spec, (b) => (out += Buffer.from(b).toString('latin1')));
  await host.start(id);
  // Mid-I/O: the worker has served at least 50 wake-ups of this guest.
  for (let i = 0; (await host.endpointStats()).serves < before + 50; i++) {
    if (i > 2000) throw new Error(`the endpoint worker served nothing in 10 s (output: ${out})`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return { id, out: () => out };
}

const done = (reqs: number) => new RegExp(`^disk-bench: storvsc ${reqs} reads of 4096 bytes in \\d+ ticks\\n$`);

describe('a disk served by the endpoint worker (threaded host)', () => {
  it('hv run --stats says the worker served it, and the root served the deterministic run', () => {
    const img = join(dir, 'cli.img');
    writeFileSync(img, '');
    truncateSync(img, 16 << 20);
    const run = (...mode: string[]) =>
      spawnSync(process.execPath, ['bin/hv.js', 'run', ...mode, '--stats', '-bios', 'hv', '-append', 'reqs=50', '-drive', `file=${img},format=raw,if=vmbus`, join(BIN, 'disk-bench.elf')], {
        encoding: 'utf8', timeout: 60_000,
      });
    const threaded = run();
    expect(threaded.stdout).toMatch(done(50));
    expect(threaded.stderr).toMatch(/^hv: endpoint worker: VMBus channels lent 1, wake-ups that served a guest's signal [1-9]\d*$/m);
    const exact = run('--deterministic');
    expect(exact.stdout).toMatch(done(50));
    expect(exact.stderr).not.toContain('endpoint worker');
  });

  it('is taken back for a snapshot and lent again on the new differencing disk; the guest reads on', async () => {
    const reqs = 4000;
    const lends = (await host.endpointStats()).lends;
    const g = await startBench('snap', disk('snap.vhd'), reqs);
    const snap = await host.snapshot(g.id, join(dir, 'tree'));
    expect(snap.id).toBeTruthy();
    expect(await host.wait(g.id)).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    expect(g.out()).toMatch(done(reqs));
    expect((await host.endpointStats()).lends - lends).toBe(2); // at OPENCHANNEL, and again after the snapshot
    await host.destroy(g.id);
  });

  it('is taken back, with the device’s state, for a save; the restored guest finishes its reads', async () => {
    const reqs = 4000;
    const g = await startBench('save', disk('save.vhd'), reqs);
    await host.pause(g.id);
    const file = join(dir, 'save.hvs');
    await host.save(g.id, file);
    expect(await host.wait(g.id)).toEqual({ kind: 'saved', path: file });
    await host.destroy(g.id);
    let out = '';
    const lends = (await host.endpointStats()).lends;
    const id = await host.restore(file, (b) => (out += Buffer.from(b).toString('latin1')));
    await host.start(id);
    expect(await host.wait(id)).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    expect(out).toMatch(done(reqs)); // storvsc came back 'ready' (a device restarted from 'begin' would fail the reads)
    expect((await host.endpointStats()).lends - lends).toBe(1); // the restored open channel, lent at start
    await host.destroy(id);
  });

  it('is taken back for a disk move, served by the root while the copy runs, and lent again on the new file', async () => {
    const reqs = 4000;
    const lends = (await host.endpointStats()).lends;
    const g = await startBench('move', disk('move.vhd'), reqs);
    const moved = await host.moveDisk(g.id, 0, join(dir, 'moved.vhd'));
    expect(moved.path).toBe(join(dir, 'moved.vhd'));
    expect(await host.wait(g.id)).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    expect(g.out()).toMatch(done(reqs));
    expect((await host.endpointStats()).lends - lends).toBe(2);
    await host.destroy(g.id);
  });

  it('is taken back when the disk is removed while the guest reads: the channel is rescinded, the host goes on', async () => {
    const g = await startBench('remove', disk('remove.vhd'), 1_000_000);
    const [ch] = await host.channels(g.id);
    expect(ch).toMatchObject({ device: 'storage', state: 'open', servedBy: 'endpoint worker' });
    await host.removeVmbusDevice(g.id, ch!.relid);
    // Rescinded; the guest's VMBus library, waiting for its read, closes the channel and releases the relid.
    await relidReleased(host, g.id, ch!.relid);
    // The worker let go: nothing of it serves the guest any more.
    const serves = (await host.endpointStats()).serves;
    await new Promise((r) => setTimeout(r, 50));
    expect((await host.endpointStats()).serves).toBe(serves);
    await host.stop(g.id);
    await host.destroy(g.id);
  });
});
