// The host frame allocator (kernel/mm/frames.ts): runs of frames a destroyed
// partition gives back are handed out again, whole or in part.
import { describe, expect, it } from 'vitest';
import { createHostMemory, instantiateKernel, type KernelExports } from '../../runtime/host/kernel.ts';

const PAGE = 4096;

function pool(frames: number): { k: KernelExports; start: number } {
  const memory = createHostMemory(0x0120_0000 + frames * PAGE);
  const noDevice = () => 0;
  const { exports: k, layout } = instantiateKernel(memory, { mmioRead: noDevice, mmioWrite: () => {}, hostClock: noDevice });
  k.hostInit();
  k.framesInit(layout.framePool, layout.framePool + frames * PAGE);
  return { k, start: layout.framePool };
}

describe('frame allocator', () => {
  it('gives a freed run back to the next contiguous allocation that fits, zeroed', () => {
    const { k } = pool(1024);
    const a = k.framesAllocContiguous(512, PAGE) >>> 0;
    const b = k.framesAllocContiguous(256, PAGE) >>> 0;
    expect(a && b).toBeTruthy();
    expect(k.framesAllocContiguous(512, PAGE)).toBe(0); // only 256 left
    k.framesFree(a, 512);
    expect(k.framesUsed()).toBe(256);
    const again = k.framesAllocContiguous(512, PAGE) >>> 0;
    expect(again).toBe(a);
    expect(k.framesUsed()).toBe(768);
  });

  it('merges neighbouring freed runs and splits one for a smaller request', () => {
    const { k } = pool(1024);
    const runs = [0, 1, 2, 3].map(() => k.framesAllocContiguous(256, PAGE) >>> 0);
    k.framesFree(runs[1]!, 256);
    k.framesFree(runs[2]!, 256); // adjacent: one run of 512
    const big = k.framesAllocContiguous(512, PAGE) >>> 0;
    expect(big).toBe(runs[1]);
    k.framesFree(big, 512);
    const small = k.framesAllocContiguous(100, 16 * PAGE) >>> 0; // aligned inside the run
    expect(small).toBeGreaterThanOrEqual(runs[1]!);
    expect(small % (16 * PAGE)).toBe(0);
    const rest = k.framesAllocContiguous(300, PAGE) >>> 0; // the remainder is still free
    expect(rest).not.toBe(0);
  });

  it('reuses a run as large as the whole pool, and counts frames exactly', () => {
    const { k } = pool(64);
    const all = k.framesAllocContiguous(64, PAGE) >>> 0;
    expect(all).not.toBe(0);
    k.framesFree(all, 64);
    expect(k.framesAllocContiguous(64, PAGE) >>> 0).toBe(all);
    k.framesFree(all, 64);
    expect(k.framesUsed()).toBe(0);
  });
});
