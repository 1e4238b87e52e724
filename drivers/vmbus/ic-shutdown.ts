// The shutdown IC (Linux hv_util.c shutdown_onchannelcallback): the host
// asks the guest to shut down or restart gracefully with a
// shutdown_msg_data {reason_code u32, timeout_seconds u32, flags u32,
// display_message u8[2048]}; flags 0 shut down, 2 restart (| 1: forced).
// The guest answers HV_S_OK and then goes down on its own (an SBI system
// reset in our guests, an orderly poweroff in Linux's).
import { HV_S_OK, IcMsgType, IntegrationComponent, utf16 } from './ic.ts';

/** HV_SHUTDOWN_GUID */
export const SHUTDOWN_CLASS_ID = '0e0b6031-5213-4934-818b-38d90ced39db';
/** SD_VERSION_3_2, 3_1, 3.0, SD_VERSION_1 1.0 (Linux's sd_versions[]). */
export const SHUTDOWN_VERSIONS = [0x3_0002, 0x3_0001, 0x3_0000, 0x1_0000] as const;
export const ShutdownFlag = { SHUTDOWN: 0, FORCE: 1, RESTART: 2 } as const;
const BODY = 12 + 2048;

export class ShutdownIc extends IntegrationComponent {
  readonly classId = SHUTDOWN_CLASS_ID;
  readonly service = 'shutdown';
  readonly stateVersion = 1;
  protected readonly serviceVersions = SHUTDOWN_VERSIONS;
  protected readonly maxBody = BODY;
  /** The last request and what the guest said (for listings). */
  last: { reboot: boolean; accepted: boolean | null } | null = null;

  constructor(readonly instanceId: string) {
    super();
  }

  /**
   * Asks the guest to go down (or restart). `done` gets null once it has
   * accepted (it shuts itself down after), or why not.
   */
  shutdown(reboot: boolean, done: (error: string | null) => void): void {
    if (this.state !== 'ready') {
      done(`the guest's shutdown IC is ${this.state}, not ready`);
      return;
    }
    const body = new Uint8Array(BODY);
    const dv = new DataView(body.buffer);
    dv.setUint32(8, reboot ? ShutdownFlag.RESTART : ShutdownFlag.SHUTDOWN, true);
    body.set(utf16(reboot ? 'Restart requested by the host' : 'Shutdown requested by the host', 2048).bytes, 12);
    const last = (this.last = { reboot, accepted: null as boolean | null });
    this.request(IcMsgType.SHUTDOWN, body, (o) => {
      last.accepted = o.ok && o.status === HV_S_OK;
      if (!o.ok) done(o.error);
      else done(o.status === HV_S_OK ? null : `the guest refused (status 0x${o.status.toString(16)})`);
    });
  }

  save(): object {
    return { ic: this.saveIc(), last: this.last };
  }

  restore(state: object): void {
    const s = state as Record<string, unknown>;
    this.checkIc((s.ic ?? {}) as Record<string, unknown>)();
    const l = s.last as { reboot?: unknown; accepted?: unknown } | null;
    this.last = l && typeof l === 'object' ? { reboot: l.reboot === true, accepted: typeof l.accepted === 'boolean' ? l.accepted : null } : null;
  }
}
