// The root partition's side of VM exits, driven by hand on this thread (no
// pCPU workers): what it does when servicing an exit goes wrong.
import { describe, expect, it, vi } from 'vitest';
import { HOST_KERNEL_BYTES } from '../../../runtime/host/hypervisor.ts';
import { createHostMemory } from '../../../runtime/host/kernel.ts';
import { RootPartition } from '../../../runtime/host/root.ts';
import { HostShared } from '../../../runtime/host/shared.ts';
import { partitionSpec, type PartitionSpec } from '../../../runtime/host/spec.ts';
import type { Machine } from '../../../runtime/machine/machine.ts';

function spec(name: string): PartitionSpec {
  return partitionSpec(name, 'guests/bin/hello.elf', { memory: 16 << 20 });
}

describe('root partition', () => {
  it('stops only the partition whose device model throws while servicing its exit', async () => {
    const poolBytes = 64 << 20;
    const shared = new HostShared();
    const root = new RootPartition({ memory: createHostMemory(HOST_KERNEL_BYTES + poolBytes), poolBytes, shared, pcpus: 1, insnsPerMs: 100_000 });
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const victim = await root.create(spec('victim'));
      const bystander = await root.create(spec('bystander'));
      const m = (root as unknown as { parts: Map<number, { machine: Machine }> }).parts.get(victim)!.machine;
      m.busAccess = () => {
        throw new TypeError('a device model bug');
      };
      // vCPU 0 of the victim waits on a read of the UART's status register.
      const h = m.harts[0]!;
      const dv = new DataView(m.memory.buffer as ArrayBuffer);
      const off = m.kernel.layout.off;
      dv.setUint32(h.base + off.MMIO_KIND!, 1, true);
      dv.setBigUint64(h.base + off.MMIO_ADDR!, 0x1000_0005n, true);
      dv.setUint32(h.base + off.MMIO_SIZE!, 1, true);
      dv.setUint32(h.base + off.MMIO_STATE!, 1, true);
      shared.postExit(m.firstVcpu);
      expect(await root.wait(victim)).toEqual({ kind: 'crashed', message: 'a device model bug' });
      const list = await root.list();
      expect(list.find((p) => p.id === bystander)!.state).toBe('created');
      expect(quiet).toHaveBeenCalled();
    } finally {
      quiet.mockRestore();
      await root.shutdown();
    }
  });
});
