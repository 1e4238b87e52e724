// `-nic` option values in QEMU's spelling (`-nic TYPE[,mac=...]`), for the
// one NIC type hv has:
//
//   -nic vmbus[,mac=52:54:00:12:34:56]
//
// a synthetic NIC on VMBus (netvsc) joined to the host's virtual switch
// (docs/vmbus.md), for enlightened guests (-bios hv). Without mac= the NIC
// gets 00:15:5d and three bytes derived from the partition's name and the
// NIC's index, as a VM config's `nics[]` does. The MAC's own rules (unicast,
// distinct per switch) are the spec's (runtime/host/spec.ts checkNics).
import { UsageError } from './errors.ts';
import { splitOptions } from './drive.ts';
import type { NicSpec } from '../host/spec.ts';

/** Parses one `-nic` value. Throws UsageError. */
export function parseNic(text: string): NicSpec {
  const comma = text.indexOf(',');
  const type = comma < 0 ? text : text.slice(0, comma);
  if (type !== 'vmbus') throw new UsageError(`-nic: type '${type}' is not one hv offers (vmbus: a synthetic NIC on the host's virtual switch)`);
  const nic: NicSpec = {};
  if (comma < 0) return nic;
  for (const [key, value] of splitOptions(text.slice(comma + 1), '-nic')) {
    if (key !== 'mac') throw new UsageError(`-nic: unknown option '${key}' (mac)`);
    if (nic.mac !== undefined) throw new UsageError("-nic: 'mac' given twice");
    nic.mac = value;
  }
  return nic;
}
