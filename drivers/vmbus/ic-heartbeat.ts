// The heartbeat IC (Linux hv_util.c heartbeat_onchannelcallback): every
// second of the guest's clock the host sends its last sequence number in a
// heartbeat_msg_data {seq_num u64, reserved u32[8]}; a live guest answers
// with seq_num + 1. The host reads the sequence and when it last moved.
import { IcMsgType, IntegrationComponent } from './ic.ts';

/** HV_HEART_BEAT_GUID */
export const HEARTBEAT_CLASS_ID = '57164f39-9115-4e78-ab55-382f3bd5422d';
/** HB_VERSION 3.0, HB_VERSION_1 1.0 (Linux's hb_versions[]). */
export const HEARTBEAT_VERSIONS = [0x3_0000, 0x1_0000] as const;
/** Between two heartbeats: 1 s of the guest's clock (10 MHz). */
export const HEARTBEAT_INTERVAL_TICKS = 10_000_000;
const BODY = 40;

export interface HeartbeatStatus {
  /** The guest's last answer (0: none yet). */
  sequence: number;
  /** Answers so far, and the guest clock (ticks) of the last. */
  answers: number;
  lastAnswer: number | null;
}

export class HeartbeatIc extends IntegrationComponent {
  readonly classId = HEARTBEAT_CLASS_ID;
  readonly service = 'heartbeat';
  readonly stateVersion = 1;
  protected readonly serviceVersions = HEARTBEAT_VERSIONS;
  protected readonly maxBody = BODY;
  private sequence = 0n;
  private answers = 0;
  private lastAnswer: number | null = null;
  private next = 0;

  constructor(readonly instanceId: string) {
    super();
  }

  get status(): HeartbeatStatus {
    return { sequence: Number(this.sequence), answers: this.answers, lastAnswer: this.lastAnswer };
  }

  protected override onReady(): void {
    this.beat(this.ctx?.now() ?? 0);
  }

  protected override onTick(now: number): void {
    if (now >= this.next && this.pending === 0) this.beat(now);
  }

  protected override onDue(): number | undefined {
    return this.pending === 0 ? this.next : undefined;
  }

  private beat(now: number): void {
    this.next = now + HEARTBEAT_INTERVAL_TICKS;
    const body = new Uint8Array(BODY);
    new DataView(body.buffer).setBigUint64(0, this.sequence, true);
    this.request(IcMsgType.HEARTBEAT, body, (o) => {
      if (!o.ok || o.status !== 0 || o.body.length < 8) return;
      this.sequence = new DataView(o.body.buffer, o.body.byteOffset).getBigUint64(0, true);
      this.answers++;
      this.lastAnswer = this.ctx?.now() ?? 0;
    });
  }

  save(): object {
    return { ic: this.saveIc(), sequence: this.sequence.toString(), answers: this.answers, lastAnswer: this.lastAnswer, next: this.next };
  }

  restore(state: object): void {
    const s = state as Record<string, unknown>;
    const apply = this.checkIc((s.ic ?? {}) as Record<string, unknown>);
    apply();
    this.sequence = BigInt(typeof s.sequence === 'string' && /^\d{1,20}$/.test(s.sequence) ? s.sequence : 0);
    this.answers = Number(s.answers) || 0;
    this.lastAnswer = typeof s.lastAnswer === 'number' ? s.lastAnswer : null;
    this.next = Number(s.next) || 0;
  }
}
