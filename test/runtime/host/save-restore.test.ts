// HostController.save/restore on the threaded host: a partition paused at
// whatever point it had reached (here: once its first result line is out),
// saved, and restored as a new partition runs on to the end and prints, in
// all, exactly what an uninterrupted run prints (guests/expected).
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlError } from '../../../runtime/host/controller.ts';
import { Host } from '../../../runtime/host/host.ts';
import { partitionSpec } from '../../../runtime/host/spec.ts';
import { InputError } from '../../../runtime/errors.ts';

describe('threaded host save and restore', () => {
  let host: Host;
  let dir: string;
  beforeAll(async () => {
    host = await Host.start({ pcpus: 2, memoryBytes: 256 << 20 });
    dir = mkdtempSync(join(tmpdir(), 'hv-host-save-'));
  });
  afterAll(async () => {
    await host?.close();
  });

  it('saves a paused partition, which a restore (on shadow paging) runs on to exactly the uninterrupted output', async () => {
    const file = join(dir, 'cpu.hvs');
    let before = '';
    let firstLine!: () => void;
    const sawLine = new Promise<void>((r) => (firstLine = r));
    const id = await host.create(partitionSpec('cpu', 'guests/bin/cpu.elf', { memory: 32 << 20 }), (b) => {
      before += Buffer.from(b).toString('latin1');
      if (/\nlist /.test(before)) firstLine();
    });
    await expect(host.save(id, file)).rejects.toBeInstanceOf(ControlError); // not paused
    await host.start(id);
    await sawLine;
    await host.pause(id);
    const info = await host.save(id, file);
    expect(info.bytes).toBe(statSync(file).size);
    expect(await host.wait(id)).toEqual({ kind: 'saved', path: file });
    await host.destroy(id); // its name is free again

    let after = '';
    // On another paging mode than it was saved on: the guest cannot tell.
    const restored = await host.restore(file, (b) => (after += Buffer.from(b).toString('latin1')), { paging: 'shadow' });
    expect((await host.list()).find((p) => p.id === restored)).toMatchObject({ state: 'created', paging: 'shadow' });
    await host.start(restored);
    expect(await host.wait(restored)).toEqual({ kind: 'exit', code: 0, reason: 'finisher' });
    expect(before + after).toBe(readFileSync('guests/expected/cpu.out', 'latin1'));
  });

  it('refuses a file that is not a save file with an InputError', async () => {
    await expect(host.restore('guests/bin/hello.elf')).rejects.toBeInstanceOf(InputError);
    await expect(host.restore('guests/bin/hello.elf')).rejects.toThrow(/not an hv save file/);
  });
});
