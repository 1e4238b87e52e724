// The time synchronization IC (Linux hv_util.c timesync_onchannelcallback):
// the host sends its UTC time in 100 ns units since 1601 (Windows' epoch:
// Linux subtracts WLTIMEDELTA). ICTIMESYNCFLAG_SYNC is a hard request to
// set the clock: sent when the channel first becomes ready and whenever
// the partition comes back from a pause, a restore or a migration;
// ICTIMESYNCFLAG_SAMPLE every 5 s of the guest's clock is a hint.
//
//   version 4.0: struct ictimesync_ref_data {parenttime u64, vmreferencetime u64,
//                flags u8, leapflags, stratum, reserved[3]}; vmreferencetime is
//                the guest's reference counter when the sample was taken (our
//                `time` CSR: 10 MHz, the same 100 ns unit), so the guest adds
//                what passed since
//   3.0, 1.0:    struct ictimesync_data {parenttime u64, childtime u64,
//                roundtriptime u64, flags u8}
import { type Clock, systemClock } from '../emulated/goldfish_rtc.ts';
import { IcMsgType, IntegrationComponent } from './ic.ts';

/** HV_TS_GUID */
export const TIMESYNC_CLASS_ID = '9527e630-d0ae-497b-adce-e80ab0175caf';
/** TS_VERSION 4.0, TS_VERSION_3 3.0, TS_VERSION_1 1.0 (Linux's ts_versions[]). */
export const TIMESYNC_VERSIONS = [0x4_0000, 0x3_0000, 0x1_0000] as const;
export const TimesyncFlag = { PROBE: 0, SYNC: 1, SAMPLE: 2 } as const;
/** 100 ns units from 1601-01-01 to 1970-01-01 (WLTIMEDELTA). */
export const WLTIMEDELTA = 116444736000000000n;
export const SAMPLE_INTERVAL_TICKS = 50_000_000;
const BODY = 25;

export class TimesyncIc extends IntegrationComponent {
  readonly classId = TIMESYNC_CLASS_ID;
  readonly service = 'timesync';
  readonly stateVersion = 1;
  protected readonly serviceVersions = TIMESYNC_VERSIONS;
  protected readonly maxBody = BODY;
  /** Syncs and samples the guest took. */
  syncs = 0;
  samples = 0;
  private next = 0;

  constructor(
    readonly instanceId: string,
    private readonly clock: Clock = systemClock,
  ) {
    super();
  }

  protected override onReady(): void {
    this.send1(TimesyncFlag.SYNC);
  }

  protected override onTick(now: number): void {
    if (now >= this.next && this.pending === 0) this.send1(TimesyncFlag.SAMPLE);
  }

  protected override onDue(): number | undefined {
    return this.pending === 0 ? this.next : undefined;
  }

  /** The partition ran on after a pause, a restore or a migration: the guest's clock is set again. */
  resumed(): void {
    this.sync();
  }

  /** Sends a SYNC now (once the IC is ready). */
  sync(): void {
    if (this.state === 'ready') this.send1(TimesyncFlag.SYNC);
  }

  private send1(flags: number): void {
    const now = this.ctx?.now() ?? 0;
    this.next = now + SAMPLE_INTERVAL_TICKS;
    const parent = WLTIMEDELTA + this.clock.nowNs() / 100n;
    const body = new Uint8Array(BODY);
    const dv = new DataView(body.buffer);
    dv.setBigUint64(0, parent, true);
    if (this.version >= 0x4_0000) {
      dv.setBigUint64(8, BigInt(now), true); // vmreferencetime
      body[16] = flags;
    } else body[24] = flags; // childtime and roundtriptime 0: Linux reads neither
    this.request(IcMsgType.TIMESYNC, body.subarray(0, this.version >= 0x4_0000 ? 22 : 25), (o) => {
      if (!o.ok) return;
      if (flags === TimesyncFlag.SYNC) this.syncs++;
      else this.samples++;
    });
  }

  save(): object {
    return { ic: this.saveIc(), syncs: this.syncs, samples: this.samples };
  }

  restore(state: object): void {
    const s = state as Record<string, unknown>;
    this.checkIc((s.ic ?? {}) as Record<string, unknown>)();
    this.syncs = Number(s.syncs) || 0;
    this.samples = Number(s.samples) || 0;
    this.next = 0; // the restored guest's clock is set at once (sync(), by the host)
  }
}
