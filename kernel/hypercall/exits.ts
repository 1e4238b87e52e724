// SBI calls that need the host: the call records what it wants in the
// vCPU block (H_SBI_EXIT and its arguments) and makes run() return
// Exit.HOST after the ECALL; the host services it and clears H_SBI_EXIT.
import { hart, H_SBI_EXIT, H_SBI_EXIT_REASON, H_SBI_EXIT_TYPE } from '../cpu/hart';
import { requestExit } from '../cpu/exception';

export function hostExit(kind: u32, type: u32 = 0, reason: u32 = 0): void {
  store<u32>(hart, type, H_SBI_EXIT_TYPE);
  store<u32>(hart, reason, H_SBI_EXIT_REASON);
  atomic.store<u32>(hart, kind, H_SBI_EXIT);
  requestExit();
}
