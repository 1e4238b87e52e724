// drivers/vmbus/ring.ts: its layout is the kernel's, and a ring works
// between two threads with their own kernel instances over shared memory.
import { describe, expect, it } from 'vitest';
import { createHostMemory, instantiateKernel } from '../../../runtime/host/kernel.ts';
import { RingLayout, RingResult, packetFootprint, ringKernel } from '../../../drivers/vmbus/ring.ts';
import { runRingThreads } from '../../support/ring-threads.ts';

function kernelGlobals(): Record<string, number> {
  const memory = createHostMemory(0x0120_0000 + 65536);
  const noDevice = () => 0;
  const { exports } = instantiateKernel(memory, { mmioRead: noDevice, mmioWrite: () => {}, hostClock: noDevice });
  const out: Record<string, number> = {};
  for (const [name, v] of Object.entries(exports as unknown as Record<string, unknown>)) {
    if (name.startsWith('VMBUS_') && v instanceof WebAssembly.Global) out[name.slice(6)] = Number(v.value);
  }
  ringKernel(exports); // every ring function is exported
  return out;
}

describe('VMBus ring view (drivers/vmbus/ring.ts)', () => {
  it('uses the kernel’s layout and result codes (kernel/vmbus/defs.ts), not copies that could drift', () => {
    const g = kernelGlobals();
    expect({
      writeIndex: g.RB_WRITE_INDEX,
      readIndex: g.RB_READ_INDEX,
      interruptMask: g.RB_INTERRUPT_MASK,
      pendingSendSz: g.RB_PENDING_SEND_SZ,
      featureBits: g.RB_FEATURE_BITS,
      featPendingSendSz: g.RB_FEAT_PENDING_SEND_SZ,
      headerSize: g.RB_HEADER_SIZE,
      maxSize: g.RB_MAX_SIZE,
      pktType: g.PKT_TYPE,
      pktOffset8: g.PKT_OFFSET8,
      pktLen8: g.PKT_LEN8,
      pktFlags: g.PKT_FLAGS,
      pktTransId: g.PKT_TRANS_ID,
      pktDescSize: g.PKT_DESC_SIZE,
      pktTrailer: g.PKT_TRAILER,
      pktMaxLen: g.PKT_MAX_LEN,
    }).toEqual(RingLayout);
    const codes = Object.fromEntries(Object.entries(g).filter(([k]) => k.startsWith('RING_')).map(([k, v]) => [k.slice(5), v]));
    expect(codes).toEqual(RingResult);
  });

  it('matches Linux’s struct hv_ring_buffer and vmpacket_descriptor (include/linux/hyperv.h)', () => {
    // write_index, read_index, interrupt_mask, pending_send_sz, reserved1[12], feature_bits; PAGE_SIZE header.
    expect([RingLayout.writeIndex, RingLayout.readIndex, RingLayout.interruptMask, RingLayout.pendingSendSz]).toEqual([0, 4, 8, 12]);
    expect(RingLayout.featureBits).toBe(16 + 12 * 4);
    expect(RingLayout.headerSize).toBe(4096);
    expect(packetFootprint(0)).toBe(24);
    expect(packetFootprint(1)).toBe(32);
  });
});

describe('VMBus ring across threads', () => {
  it('streams the same through a reader that takes up to 32 packets a call, committing the read index once a batch', async () => {
    const count = 300_000;
    const { writer, reader } = await runRingThreads({ count, size: 5 * 4096, maxLen: 3000, verify: true, seed: 9, batch: 32 });
    expect([...writer.errors, ...reader.errors]).toEqual([]);
    expect(reader.packets).toBe(count);
    expect(reader.checksum).toBe(writer.checksum);
    expect(writer.timeouts + reader.timeouts).toBe(0);
    expect(reader.signals).toBeGreaterThan(0); // batches crossed the blocked writer's pending_send_sz
    expect(writer.waits).toBeLessThanOrEqual(reader.signals); // every sleep of the writer ended by a signal
    expect(reader.waits).toBeLessThanOrEqual(writer.signals);
  }, 120_000);

  it('streams a million packets from a writer thread to a reader thread, in order, checksummed, with no lost wake-up', async () => {
    const count = 1_000_000;
    const { writer, reader } = await runRingThreads({ count, size: 5 * 4096, maxLen: 3000, verify: true, seed: 7 });
    expect(writer.errors).toEqual([]);
    expect(reader.errors).toEqual([]);
    expect(reader.packets).toBe(count);
    expect(writer.packets).toBe(count);
    expect(reader.bytes).toBe(writer.bytes);
    expect(reader.checksum).toBe(writer.checksum);
    // Both sides slept and were woken by the other's signal; none waited out its timeout.
    expect(writer.timeouts + reader.timeouts).toBe(0);
    expect(writer.waits).toBeGreaterThan(0);
    expect(reader.signals).toBeGreaterThan(0); // the pending_send_sz transition woke the writer
    expect(writer.signals).toBeGreaterThan(0); // empty -> non-empty woke the reader
    // Atomics.wait does not wake spuriously: every sleep was ended by one signal of the other side.
    expect(reader.waits).toBeLessThanOrEqual(writer.signals);
    expect(writer.waits).toBeLessThanOrEqual(reader.signals);
  }, 120_000);
});
