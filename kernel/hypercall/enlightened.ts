// Is the running vCPU's partition one whose SBI firmware the hypervisor is?
// (Its own module: cpu/interrupts.ts and cpu/exec.ts ask, and it must not
// pull the whole dispatcher into their import graph.)
import { hart, H_PARTITION } from '../cpu/hart';
import { P_FLAGS, PF_ENLIGHTENED } from '../mm/partition';

@inline export function enlightened(): bool {
  return (load<u32>(<usize>load<u32>(hart, H_PARTITION), P_FLAGS) & PF_ENLIGHTENED) != 0;
}
