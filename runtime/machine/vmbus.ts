// A Machine's VMBus (MachineConfig.vmbus, enlightened boot): the SynICs and
// channel manager of drivers/vmbus/host.ts over the partition's vCPU blocks,
// RAM and the kernel's frame pool.
import { MEMMAP } from '../../drivers/board/memmap.ts';
import type { VmbusDevice } from '../../drivers/vmbus/channel-manager.ts';
import { VmbusHost } from '../../drivers/vmbus/host.ts';
import type { SynicKernel } from '../../drivers/vmbus/synic.ts';
import { ringKernel } from '../../drivers/vmbus/ring.ts';
import type { Machine } from './machine.ts';

/**
 * `m`'s VMBus with `devices` (`hotplugged`: changed by hot add or remove
 * since the config's). `interruptWake` is the threaded host's wake of a
 * vCPU a SINT was raised for; the deterministic host's next round sees it.
 */
export function machineVmbus(m: Machine, devices: readonly VmbusDevice[], hotplugged: boolean, interruptWake: (hart: number) => void): VmbusHost {
  const k = m.kernel.exports;
  return new VmbusHost({
    memory: m.memory,
    kernel: k as unknown as SynicKernel,
    offsets: m.kernel.layout.off,
    id: m.id,
    firstVcpu: m.firstVcpu,
    harts: m.harts.length,
    vcpuBase: (h) => m.harts[h]!.base,
    wake: (h) => {
      if (m.config.exits) interruptWake(h); // deterministic: the next round sees the line
    },
    // Threaded: the root's thread watches the event area's doorbell
    // (runtime/host/vmbus-signals.ts), so a signal costs the vCPU no exit.
    exitOnSignal: !m.config.exits,
    ram: { gpa: MEMMAP.dram.base, size: m.config.ramSize, host: m.ramHostAddress },
    ...(m.overcommit ? { pinning: m.overcommit.gpadlPinning() } : {}),
    devices,
    hotplugged,
    guest: m.guestMemory,
    ring: ringKernel(k),
    scratch: (pages) => k.framesAllocContiguous(pages, 4096),
    freeScratch: (addr, pages) => k.framesFree(addr, pages),
    now: () => m.guestTicks(),
    log: (line) => console.warn(`hv: partition ${m.id}: ${line}`), // the refusals are also kept in vmbus.channels.refusals
  });
}
