// The integration components (drivers/vmbus/ic*.ts) against the enlightened
// guest that answers them (guests/enlightened/vmbus-ic.c on
// guests/slib/hv_ic.c, Linux hv_utils' protocol): negotiation, timesync,
// heartbeats, KVP both ways and a graceful shutdown from the host. Its
// output must be guests/expected/enlightened/vmbus-ic.out byte for byte (recorded from hv:
// QEMU has no VMBus) on both hosts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { icDevices, integrationServices } from '../../drivers/vmbus/ic-services.ts';
import { Host } from '../../runtime/host/host.ts';
import { partitionSpec } from '../../runtime/host/spec.ts';
import { parseElf } from '../../runtime/loader/elf.ts';
import { Machine } from '../../runtime/machine/machine.ts';
import { BIN } from '../support/enlightened.ts';

const EXPECTED = readFileSync('guests/expected/enlightened/vmbus-ic.out', 'latin1');
const PUSH = { HostName: 'hv-root', Purpose: 'integration test' };
const GUEST_POOLS = {
  auto: { FullyQualifiedDomainName: 'vmbus-ic', OSName: 'hv enlightened guest', ProcessorArchitecture: 'riscv64' },
  guest: { GuestState: 'serving' },
};

describe('vmbus-ic guest', () => {
  it('negotiates each IC, takes the time, answers heartbeats, trades KVP keys and shuts down when asked (deterministic host)', async () => {
    const ics = integrationServices({ kvp: { push: PUSH } });
    let output = '';
    let asked = false;
    const m = new Machine({
      ramSize: 32 << 20, harts: 1, clock: 'icount', vmbus: icDevices(ics),
      // The console is flushed between rounds: asking there is a deterministic point.
      onConsole: (b) => {
        output += Buffer.from(b).toString('latin1');
        if (!asked && output.includes('waiting for shutdown\n')) {
          asked = true;
          ics.shutdown.shutdown(false, (e) => expect(e).toBeNull());
        }
      },
    });
    const entry = m.loadElf(parseElf(readFileSync(join(BIN, 'vmbus-ic.elf'))));
    m.bootEnlightened(entry, m.placeDtb());
    const result = await m.run({ maxInsns: 30_000_000_000 });
    expect(output).toBe(EXPECTED);
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    expect(ics.kvp.guestPools).toEqual(GUEST_POOLS);
    expect(ics.heartbeat.status.sequence).toBeGreaterThanOrEqual(3);
    expect(ics.shutdown.last).toEqual({ reboot: false, accepted: true });
    expect(m.vmbus!.channels.refusals).toEqual([]);
    expect(m.vmbus!.channels.faults).toEqual([]);
  });
});
