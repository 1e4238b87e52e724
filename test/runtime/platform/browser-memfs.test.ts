// The browser's in-memory file store (runtime/platform/browser/memfs.ts),
// run in Node: what the page puts is in shared memory and another thread's
// store that adopts it sees the same bytes, growth included (the endpoint
// worker serving a disk the page put in the root's store); what the host
// creates (a swap file) is the thread's own.
import { describe, expect, it } from 'vitest';
import { MemFs, type SharedChange } from '../../../runtime/platform/browser/memfs.ts';

describe('the browser file store shared with another thread', () => {
  it("gives another store the same file: each sees the other's writes, growth and truncation", () => {
    const root = new MemFs();
    const worker = new MemFs();
    root.put('/disks/a.img', new Uint8Array(4096).fill(1));
    const { now } = root.share(() => {});
    for (const c of structuredClone(now)) worker.adopt(c); // as a postMessage carries it
    const w = worker.open('/disks/a.img').data;
    w.write(Uint8Array.of(7, 8, 9), 8190); // past the end: the file grows
    expect(root.get('/disks/a.img').length).toBe(8193);
    expect(root.get('/disks/a.img').subarray(4095, 4097)).toEqual(Uint8Array.of(1, 0));
    expect(root.get('/disks/a.img').subarray(8190)).toEqual(Uint8Array.of(7, 8, 9));
    root.open('/disks/a.img').data.truncate(100);
    expect(w.size()).toBe(100);
  });

  it('passes later puts and removals on, and keeps files the host creates to itself', () => {
    const root = new MemFs();
    const worker = new MemFs();
    const changes: SharedChange[] = [];
    const { now, stop } = root.share((c) => changes.push(c));
    expect(now).toEqual([]);
    root.put('/disks/b.img', Uint8Array.of(5));
    root.create('/swap/hv-swap.swp');
    root.remove('/disks/b.img');
    root.remove('/swap/hv-swap.swp');
    expect(changes.map(([path, h]) => [path, h !== null])).toEqual([['/disks/b.img', true], ['/disks/b.img', false]]);
    worker.adopt(changes[0]!);
    expect(worker.get('/disks/b.img')).toEqual(Uint8Array.of(5));
    worker.adopt(changes[1]!);
    expect(worker.lookup('/disks/b.img')).toBeUndefined();
    stop();
    root.put('/disks/c.img', Uint8Array.of(1));
    expect(changes).toHaveLength(2);
  });
});
