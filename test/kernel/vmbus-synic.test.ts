// The SynIC (kernel/vmbus/synic.ts, kernel/hypercall/synic.ts) one call at a
// time: registers, messages into the guest's slots with the queue behind a
// full one, EOM, event flags both ways, post-message, and what bad
// arguments get.
import { describe, expect, it } from 'vitest';
import { EventArea, SynicHost, SynicResult, synicOffsets, type SynicKernel } from '../../drivers/vmbus/synic.ts';
import { ServedConnections } from '../../drivers/vmbus/served.ts';
import { code, rv } from '../support/rv.ts';
import { EID, Exit, RAM_BASE, SBI, SbiHarness } from '../support/enlightened.ts';

const REG = { SINT0: 0xa0000, SCONTROL: 0xa0010, SVERSION: 0xa0011, SIEFP: 0xa0012, SIMP: 0xa0013, EOM: 0xa0014 };
const FID = { GET: 0x40, SET: 0x41, POST: 0x42, SIGNAL: 0x43, CLAIM: 0x44 };
const SBI_EXIT = { POST_MESSAGE: 5, SYNIC_EOM: 6, SIGNAL_EVENT: 7 };
const MASKED = 1n << 16n;
const AUTO_EOI = 1n << 17n;
const SEIP = 1n << 9n;
const SIMP = RAM_BASE + 0x8000;
const SIEFP = RAM_BASE + 0x9000;
const POST_IN = RAM_BASE + 0xa000;

function setup(exitOnSignal = false) {
  const t = new SbiHarness(2, 1 << 20);
  const m = t.machine;
  const woken: number[] = [];
  const host = new SynicHost(m.memory, m.kernel.exports as unknown as SynicKernel, synicOffsets(m.kernel.layout.off), {
    id: m.id,
    firstVcpu: m.firstVcpu,
    harts: m.harts.length,
    vcpuBase: (h) => m.harts[h]!.base,
    wake: (h) => woken.push(h),
    exitOnSignal,
  });
  const set = (name: number, value: bigint, on = 0) => t.call(EID.HV, FID.SET, [name, value], on);
  const get = (name: number, on = 0) => t.call(EID.HV, FID.GET, [name], on);
  /** SynIC on, pages at SIMP/SIEFP, SINT2 unmasked (as Linux's hv_synic_enable_regs). */
  const enable = (sint = 2, bits = 0n) => {
    expect(set(REG.SIMP, BigInt(SIMP) | 1n).error).toBe(SBI.SUCCESS);
    expect(set(REG.SIEFP, BigInt(SIEFP) | 1n).error).toBe(SBI.SUCCESS);
    expect(set(REG.SINT0 + sint, 0x22n | bits).error).toBe(SBI.SUCCESS);
    expect(set(REG.SCONTROL, 1n).error).toBe(SBI.SUCCESS);
  };
  const slot = (sint: number) => new DataView(t.ramAt(SIMP + sint * 256, 256).slice().buffer);
  const extIrq = (h = 0) => t.hart(h).u32('EXT_IRQ');
  return { t, m, host, woken, set, get, enable, slot, extIrq };
}

describe('SynIC registers (hv set_register / get_register)', () => {
  it('read as a vCPU leaving reset has them: version 1, disabled, every SINT masked', () => {
    const { get } = setup();
    expect(get(REG.SVERSION)).toMatchObject({ error: SBI.SUCCESS, value: 1n });
    expect(get(REG.SCONTROL).value).toBe(0n);
    expect(get(REG.SIMP).value).toBe(0n);
    for (let s = 0; s < 16; s++) expect(get(REG.SINT0 + s).value).toBe(MASKED);
  });

  it('keep what is written, reserved bits dropped', () => {
    const { set, get } = setup();
    set(REG.SINT0 + 3, 0xffff_ffffn);
    expect(get(REG.SINT0 + 3).value).toBe(0x7_00ffn); // vector, masked, auto-EOI, polling
    set(REG.SIMP, BigInt(SIMP) | 0xfffn);
    expect(get(REG.SIMP).value).toBe(BigInt(SIMP) | 1n);
    set(REG.SCONTROL, 0xffn);
    expect(get(REG.SCONTROL).value).toBe(1n);
  });

  it('refuse a message or event page outside the partition’s RAM, a write to SVERSION, an unknown name', () => {
    const { set, get } = setup();
    expect(set(REG.SIMP, 0x1000n | 1n).error).toBe(SBI.INVALID_ADDRESS);
    expect(set(REG.SIEFP, BigInt(RAM_BASE + (1 << 20)) | 1n).error).toBe(SBI.INVALID_ADDRESS);
    expect(set(REG.SIMP, 0x1000n).error).toBe(SBI.SUCCESS); // disabled: not used, not checked
    expect(set(REG.SVERSION, 2n).error).toBe(SBI.DENIED);
    expect(set(0xa0015, 0n).error).toBe(SBI.INVALID_PARAM);
    expect(get(0xa0020).error).toBe(SBI.INVALID_PARAM);
  });
});

describe('SynIC messages (host -> guest)', () => {
  it('fill the SINT’s empty slot, assert SEIP and wake the vCPU; claim returns the SINT and drops SEIP', () => {
    const { t, host, woken, enable, slot } = setup();
    enable();
    expect(host.post(0, 2, 15, Uint8Array.of(1, 2, 3))).toBe(SynicResult.OK);
    const s = slot(2);
    expect([s.getUint32(0, true), s.getUint8(4), s.getUint8(5), s.getUint8(16), s.getUint8(18)]).toEqual([15, 3, 0, 1, 3]);
    expect(woken).toEqual([0]);
    expect(t.sip() & SEIP).toBe(SEIP);
    expect(t.call(EID.HV, FID.CLAIM)).toMatchObject({ error: SBI.SUCCESS, value: 1n << 2n });
    expect(t.sip() & SEIP).toBe(0n);
    expect(t.call(EID.HV, FID.CLAIM).value).toBe(0n);
  });

  it('queue behind a full slot with msg_pending, and come one per EOM in order', () => {
    const { t, host, enable, slot, set } = setup();
    enable();
    for (const type of [1, 2, 3]) expect(host.post(0, 2, type, Uint8Array.of(type))).toBe(SynicResult.OK);
    expect(host.queued(0)).toBe(2);
    expect(slot(2).getUint32(0, true)).toBe(1);
    expect(slot(2).getUint8(5) & 1).toBe(1); // msg_pending: "EOM when you have freed it"
    for (const type of [2, 3]) {
      new DataView(t.ramAt(SIMP + 2 * 256, 4).buffer, t.ramAt(SIMP + 2 * 256, 4).byteOffset).setUint32(0, 0, true); // the guest frees the slot
      const r = set(REG.EOM, 0n);
      expect(r.exit).toBe(Exit.HOST);
      expect(t.hart(0).takeSbiExit().kind).toBe(SBI_EXIT.SYNIC_EOM);
      host.eom(0);
      expect(slot(2).getUint32(0, true)).toBe(type);
      expect(slot(2).getUint8(5) & 1).toBe(type === 2 ? 1 : 0); // more behind it, or not
    }
    expect(host.queued(0)).toBe(0);
  });

  it('are refused on a masked SINT, a disabled SynIC or message page; the host queues at most 64', () => {
    const { host, enable, set } = setup();
    expect(host.post(0, 2, 1, new Uint8Array(1))).toBe(SynicResult.OFF); // SynIC off
    enable();
    expect(host.post(0, 3, 1, new Uint8Array(1))).toBe(SynicResult.OFF); // SINT3 masked
    set(REG.SIMP, BigInt(SIMP));
    expect(host.post(0, 2, 1, new Uint8Array(1))).toBe(SynicResult.OFF); // page disabled
    set(REG.SIMP, BigInt(SIMP) | 1n);
    let ok = 0;
    while (host.post(0, 2, 1, new Uint8Array(1)) === SynicResult.OK && ok < 1000) ok++;
    expect(ok).toBe(1 + 64); // the slot, then the queue
    expect(() => host.post(0, 2, 1, new Uint8Array(241))).toThrow(RangeError);
  });

  it('are delivered the same through nested paging’s second stage', () => {
    const t = new SbiHarness(1, 1 << 20, 'nested');
    const m = t.machine;
    const host = new SynicHost(m.memory, m.kernel.exports as unknown as SynicKernel, synicOffsets(m.kernel.layout.off), {
      id: m.id, firstVcpu: m.firstVcpu, harts: 1, vcpuBase: (h) => m.harts[h]!.base, wake: () => {}, exitOnSignal: false,
    });
    for (const [n, v] of [[REG.SIMP, BigInt(SIMP) | 1n], [REG.SINT0 + 2, 0n], [REG.SCONTROL, 1n]] as const) t.call(EID.HV, FID.SET, [n, v]);
    expect(host.post(0, 2, 7, Uint8Array.of(9))).toBe(SynicResult.OK);
    expect(t.ramAt(SIMP + 512, 17)[16]).toBe(9);
  });
});

describe('SynIC interrupts', () => {
  // stvec = handler (j .), sie.SEIE, sstatus.SIE, then spin.
  const PROLOGUE = RAM_BASE + 0x100;
  const HANDLER = PROLOGUE + 0x20;
  const prologue = code([
    rv.auipc(5, 0), rv.addi(5, 5, 0x20), rv.csrrw(0, 0x105, 5), rv.addi(6, 0, 0x200), rv.csrrs(0, 0x104, 6),
    rv.addi(6, 0, 2), rv.csrrs(0, 0x100, 6), rv.jal(0, 0), rv.jal(0, 0),
  ]);

  it.each([
    ['an auto-EOI SINT stops being asserted when the interrupt is taken', AUTO_EOI, 0],
    ['another stays asserted until the guest claims it', 0n, 1 << 18],
  ])('%s', (_name, bits, left) => {
    const { t, host, enable, extIrq } = setup();
    enable(2, bits);
    t.machine.loadRaw(prologue, PROLOGUE, 'prologue');
    t.hart(0).setPc(BigInt(PROLOGUE));
    t.run(0, 10);
    expect(t.hart(0).pc).toBe(BigInt(PROLOGUE + 0x1c));
    host.post(0, 2, 1, new Uint8Array(0));
    t.run(0, 2);
    expect(t.hart(0).pc).toBe(BigInt(HANDLER));
    expect(extIrq() >>> 16 << 16).toBe(left);
  });

  it('event flags: the host sets the relid’s bit in the SINT’s bitmap once and interrupts once', () => {
    const { t, host, enable, woken } = setup();
    enable();
    expect(host.signal(1, 2, 40)).toBe(SynicResult.OFF); // hart 1's SynIC is off
    expect(host.signal(0, 2, 40)).toBe(SynicResult.OK);
    expect(host.signal(0, 2, 40)).toBe(SynicResult.SET);
    expect(host.signal(0, 2, 2048)).toBe(SynicResult.BAD_ARG);
    expect(t.ramAt(SIEFP + 2 * 256 + 5, 1)[0]).toBe(1); // bit 40 = byte 5, bit 0
    expect(woken).toEqual([0]);
  });
});

describe('post_message (guest -> host)', () => {
  function writePost(t: SbiHarness, at: number, conn: number, type: number, payload: number[], size = payload.length) {
    const b = t.ramAt(at, 256);
    const dv = new DataView(b.buffer, b.byteOffset);
    dv.setUint32(0, conn, true);
    dv.setUint32(8, type, true);
    dv.setUint32(12, size, true);
    b.set(payload, 16);
  }

  it('exits to the host with the message, which takes it as posted', () => {
    const { t, host } = setup();
    writePost(t, POST_IN, 4, 14, [0xaa, 0xbb]);
    const r = t.call(EID.HV, FID.POST, [POST_IN]);
    expect(r).toMatchObject({ error: SBI.SUCCESS, exit: Exit.HOST });
    expect(t.hart(0).takeSbiExit().kind).toBe(SBI_EXIT.POST_MESSAGE);
    expect(host.takePost(0)).toEqual({ connectionId: 4, type: 14, payload: Uint8Array.of(0xaa, 0xbb) });
    host.setResult(0, -4);
    expect(BigInt.asIntN(64, t.hart(0).getX(10))).toBe(SBI.DENIED);
  });

  it.each([
    ['misaligned', POST_IN + 4, 1, 1, 0, SBI.INVALID_ADDRESS],
    ['crossing a page', POST_IN + 0xf08, 1, 1, 0, SBI.INVALID_ADDRESS],
    ['outside RAM', 0x1000, 1, 1, 0, SBI.INVALID_ADDRESS],
    ['message type 0', POST_IN, 1, 0, 0, SBI.INVALID_PARAM],
    ['a hypervisor message type', POST_IN, 1, 0x8000_0000, 0, SBI.INVALID_PARAM],
    ['payload of 241 bytes', POST_IN, 1, 1, 241, SBI.INVALID_PARAM],
    ['reserved connection-id bits', POST_IN, 0x0100_0001, 1, 0, SBI.INVALID_PARAM],
  ])('refuses input %s without an exit', (_n, at, conn, type, size, error) => {
    const { t } = setup();
    if (at >= RAM_BASE && at + 256 <= RAM_BASE + (1 << 20)) writePost(t, at, conn, type, [], size);
    expect(t.call(EID.HV, FID.POST, [at])).toMatchObject({ error, exit: Exit.BUDGET });
  });
});

describe('signal_event (guest -> host)', () => {
  it('sets the connection’s bit and rings the doorbell once per 0 -> 1, with no exit', () => {
    const { t, host } = setup();
    const d0 = host.doorbell();
    expect(t.call(EID.HV, FID.SIGNAL, [7])).toMatchObject({ error: SBI.SUCCESS, exit: Exit.BUDGET });
    expect(t.call(EID.HV, FID.SIGNAL, [7]).exit).toBe(Exit.BUDGET);
    expect(t.call(EID.HV, FID.SIGNAL, [2047 | (5 << 32)]).error).toBe(SBI.SUCCESS); // flag number: ignored
    expect(host.doorbell() - d0).toBe(2);
    expect(host.takeSignals()).toEqual([7, 2047]);
    expect(host.takeSignals()).toEqual([]);
  });

  it('sends a connection an endpoint thread serves to that thread’s doorbell and bitmap, never exiting', () => {
    const { t, host, m } = setup(true);
    const served = new ServedConnections(m.memory, host.eventArea);
    const bell = host.eventArea + 4092; // any u32 of shared memory: here the area's unused last word
    served.setBell(bell);
    served.serve(9);
    const words = new Int32Array(m.memory.buffer as ArrayBuffer);
    const d0 = host.doorbell();
    expect(t.call(EID.HV, FID.SIGNAL, [9]).exit).toBe(Exit.BUDGET);
    expect(t.call(EID.HV, FID.SIGNAL, [9]).exit).toBe(Exit.BUDGET);
    expect(Atomics.load(words, bell / 4)).toBe(1); // rung once per 0 -> 1
    expect(host.doorbell()).toBe(d0);
    expect(host.takeSignals()).toEqual([]);
    expect(served.take()).toEqual([9]);
    served.unserve(9);
    expect(t.call(EID.HV, FID.SIGNAL, [9]).exit).toBe(Exit.HOST); // back to the host's own path
    expect(host.takeSignals()).toEqual([9]);
  });

  it('exits when the host asked for it', () => {
    const { t } = setup(true);
    expect(t.call(EID.HV, FID.SIGNAL, [7]).exit).toBe(Exit.HOST);
    expect(t.hart(0).takeSbiExit().kind).toBe(SBI_EXIT.SIGNAL_EVENT);
  });

  it('refuses a partition without VMBus, connection ids past 2047 and reserved bits', () => {
    const t = new SbiHarness(1);
    expect(t.call(EID.HV, FID.SIGNAL, [1]).error).toBe(SBI.INVALID_PARAM);
    const { t: u } = setup();
    for (const bad of [2048, 0x0100_0000, 1n << 48n]) expect(u.call(EID.HV, FID.SIGNAL, [bad]).error).toBe(SBI.INVALID_PARAM);
  });
});

describe('SynIC layout', () => {
  it('the host event area is where the kernel says, and the SynIC is saved with the vCPU (below its TLB)', () => {
    const { m } = setup();
    const g = (n: string) => Number((m.kernel.exports as unknown as Record<string, WebAssembly.Global>)[n]!.value);
    expect([g('VMBUS_HE_DOORBELL'), g('VMBUS_HE_FLAGS'), g('VMBUS_HE_BITMAP')]).toEqual([EventArea.doorbell, EventArea.flags, EventArea.bitmap]);
    expect([g('VMBUS_HE_SERVER_BELL'), g('VMBUS_HE_SERVED'), g('VMBUS_HE_SERVER_BITMAP')]).toEqual([EventArea.serverBell, EventArea.served, EventArea.serverBitmap]);
    expect(m.kernel.layout.off.SYNIC! + 0x300).toBeLessThanOrEqual(m.kernel.layout.off.TLB!);
  });
});
