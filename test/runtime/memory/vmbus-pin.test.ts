// VMBus on an overcommit partition (kernel/mm/pin.ts, docs/memory.md): a
// GPADL's pages move into one host run and stay pinned while the guest
// holds the GPADL, so the rings keep working while the scanner merges and
// the balloon takes pages around them, and a GPADL naming pages the guest
// gave away is refused as any GPADL naming non-RAM is.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { icDevices, integrationServices } from '../../../drivers/vmbus/ic-services.ts';
import type { VmbusDevice } from '../../../drivers/vmbus/channel-manager.ts';
import { Msg } from '../../../drivers/vmbus/messages.ts';
import { parseElf } from '../../../runtime/loader/elf.ts';
import { Machine } from '../../../runtime/machine/machine.ts';
import { BIN } from '../../support/enlightened.ts';

const EXPECTED = readFileSync('guests/expected/enlightened/vmbus-ic.out', 'latin1');
const RAM = 0x8000_0000;
const PAGE = 4096;
const RAM_SIZE = 32 << 20;

describe.each(['nested', 'shadow'] as const)('VMBus on an overcommit partition under %s paging', (paging) => {
  it('the integration components run to the same output while the scanner merges and the balloon takes every page it may; ring pages stay pinned', async () => {
    const ics = integrationServices({ kvp: { push: { HostName: 'hv-root', Purpose: 'integration test' } } });
    let output = '';
    let asked = false;
    let refusedPinned = 0;
    let ballooned = 0;
    let maxPinned = 0;
    const m: Machine = new Machine({
      ramSize: RAM_SIZE, harts: 1, clock: 'icount', paging, overcommit: {}, vmbus: icDevices(ics),
      // Between rounds (the console is flushed there): take every page of the top half of RAM
      // the guest does not use, and try the pinned ones too (refused).
      onConsole: (b) => {
        output += Buffer.from(b).toString('latin1');
        const oc = m.overcommit!;
        maxPinned = Math.max(maxPinned, oc.map().pinned);
        for (let page = RAM_SIZE / PAGE / 2; page < RAM_SIZE / PAGE; page++) if (oc.balloonPage(RAM + page * PAGE)) ballooned++;
        // The GPADLs' pages: the balloon may not have them, and they stay where the rings are.
        for (const g of m.vmbus!.channels.save().gpadls.filter((g) => g.created)) {
          for (const pfn of g.pfns) {
            const gpa = parseInt(pfn, 16) * PAGE;
            const before = m.kernel.exports.partitionHostPeek(m.id, BigInt(gpa));
            expect(oc.balloonPage(gpa)).toBe(false);
            expect(m.kernel.exports.partitionHostPeek(m.id, BigInt(gpa))).toBe(before);
            refusedPinned++;
          }
        }
        if (!asked && output.includes('waiting for shutdown\n')) {
          asked = true;
          ics.shutdown.shutdown(false, (e) => expect(e).toBeNull());
        }
      },
    });
    m.hypervisor.sharePagesPerRound = 4096; // a full scan of the partition every round
    const entry = m.loadElf(parseElf(readFileSync(join(BIN, 'vmbus-ic.elf'))));
    m.bootEnlightened(entry, m.placeDtb());
    const result = await m.run({ maxInsns: 30_000_000_000 });
    expect(output).toBe(EXPECTED);
    expect(result).toEqual({ kind: 'exit', code: 0, reason: 'sbi' });
    expect(m.vmbus!.channels.refusals).toEqual([]);
    expect(m.vmbus!.channels.faults).toEqual([]);
    // Four channels, each ring GPADL pinned while open; the pages merged and ballooned around them.
    expect(maxPinned).toBeGreaterThanOrEqual(4 * 2);
    const map = m.overcommit!.map();
    expect(map.zero + map.shared + map.unpopulated).toBeGreaterThan(1000);
    expect(ballooned).toBeGreaterThan(0);
    expect(refusedPinned).toBeGreaterThan(0);
  });
});

describe('GPADLs on an overcommit partition (the channel manager and the kernel)', () => {
  const device: VmbusDevice = { classId: 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f', instanceId: '00000000-0000-0000-0000-000000000001', open() {}, notify() {}, close() {} };
  function setup() {
    const m = new Machine({ ramSize: 4 << 20, harts: 1, clock: 'icount', paging: 'nested', overcommit: {}, vmbus: [device], onConsole: () => {} });
    m.loadRaw(Uint8Array.of(0x6f, 0, 0, 0), RAM, 'j .');
    m.bootEnlightened(BigInt(RAM), 0);
    const cm = m.vmbus!.channels;
    const contact = new Uint8Array(40);
    new DataView(contact.buffer).setUint32(0, Msg.INITIATE_CONTACT, true);
    new DataView(contact.buffer).setUint32(8, 0x5_0003, true);
    cm.receive(4, contact); // its answers find no message page: they are only logged
    const pfn = (page: number) => BigInt(RAM / PAGE + page);
    /** GPADL_HEADER of `handle` for relid 1 over `pfns` (at most 26: no GPADL_BODY). */
    const gpadl = (handle: number, pfns: bigint[]) => {
      const h = new Uint8Array(28 + pfns.length * 8);
      const dv = new DataView(h.buffer);
      dv.setUint32(0, Msg.GPADL_HEADER, true);
      dv.setUint32(8, 1, true);
      dv.setUint32(12, handle, true);
      dv.setUint16(16, 8 + pfns.length * 8, true);
      dv.setUint16(18, 1, true);
      dv.setUint32(20, pfns.length * PAGE, true);
      pfns.forEach((p, i) => dv.setBigUint64(28 + i * 8, p, true));
      return cm.receive(1, h);
    };
    const teardown = (handle: number) => {
      const b = new Uint8Array(16);
      new DataView(b.buffer).setUint32(0, Msg.GPADL_TEARDOWN, true);
      new DataView(b.buffer).setUint32(8, 1, true);
      new DataView(b.buffer).setUint32(12, handle, true);
      return cm.receive(1, b);
    };
    const host = (page: number) => Number(m.kernel.exports.partitionHostPeek(m.id, BigInt(RAM + page * PAGE)));
    return { m, cm, pfn, gpadl, teardown, host, oc: m.overcommit! };
  }

  it('pins a GPADL of private, shared and never-written pages into one host run, and teardown lets them go', () => {
    const { m, cm, pfn, gpadl, teardown, host, oc } = setup();
    for (const p of [100, 101, 103]) m.guestMemory.write(RAM + p * PAGE, new Uint8Array(PAGE).fill(7)); // 102 never written
    m.kernel.exports.shareScan(4096); // 100, 101 and 103 now share a frame
    expect(gpadl(5, [100, 101, 102, 103].map(pfn))).toBeUndefined();
    expect(cm.gpadl(5)).toBeDefined();
    const base = host(100);
    expect([101, 102, 103].map(host)).toEqual([base + PAGE, base + 2 * PAGE, base + 3 * PAGE]);
    expect(oc.map().pinned).toBe(4);
    expect(m.guestMemory.read(RAM + 103 * PAGE, PAGE)).toEqual(new Uint8Array(PAGE).fill(7));
    expect(oc.balloonPage(RAM + 101 * PAGE)).toBe(false);
    expect(teardown(5)).toBeUndefined();
    expect(oc.map().pinned).toBe(0);
    expect(oc.balloonPage(RAM + 101 * PAGE)).toBe(true);
    expect(cm.refusals).toEqual([]);
  });

  it('a reboot or the partition’s end (its VMBus disposed) lets the GPADLs’ pages go', () => {
    const { m, pfn, gpadl, oc } = setup();
    expect(gpadl(5, [300, 301].map(pfn))).toBeUndefined();
    expect(oc.map().pinned).toBe(2);
    m.vmbus!.dispose();
    expect(oc.map().pinned).toBe(0);
  });

  it.each([
    ['a ballooned page', (t: ReturnType<typeof setup>) => (t.oc.balloonPage(RAM + 201 * PAGE), [200, 201].map(t.pfn)), /page 0x800c9000 is not present \(ballooned\)/],
    ['a page of another GPADL', (t: ReturnType<typeof setup>) => (t.gpadl(6, [t.pfn(201)]), [200, 201].map(t.pfn)), /page 0x800c9000 is in another GPADL already/],
    ['a page past RAM', (t: ReturnType<typeof setup>) => [t.pfn(200), t.pfn(1024)], /page 1 \(pfn 0x80400\) is not the partition's RAM/],
  ])('refuses a GPADL naming %s, leaving nothing of it pinned', (_, pages, reason) => {
    const t = setup();
    const pfns = pages(t);
    const pinned = t.oc.map().pinned;
    expect(t.gpadl(5, pfns)?.reason).toMatch(reason);
    expect(t.cm.gpadl(5)).toBeUndefined();
    expect(t.oc.map().pinned).toBe(pinned);
    expect(t.oc.balloonPage(RAM + 200 * PAGE)).toBe(true); // page 200 is the partition's again
  });
});
