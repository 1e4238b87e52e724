// Timer extension (EID 0x54494D45 "TIME", spec chapter 6) and legacy set_timer.
//
// The supervisor timer is a per-vCPU comparator (H_STIMECMP) against the
// partition's mtime, exactly as the Sstc extension's stimecmp: STIP is
// pending while mtime >= stimecmp (cpu/interrupts.ts computes it), so a
// comparator in the future clears a pending STIP, and (uint64)-1 disarms.
import { hart, H_STIMECMP } from '../cpu/hart';
import { requestResync } from '../cpu/exception';
import { arg, fid, retErr } from './abi';
import { SBI_ERR_NOT_SUPPORTED, SBI_SUCCESS } from './defs';

const TIME_SET_TIMER: u32 = 0;

export function setTimer(stime: u64): void {
  store<u64>(hart, stime, H_STIMECMP);
  requestResync(); // STIP may have become pending (a time in the past) or cleared
}

export function sbiTime(): void {
  if (fid() != TIME_SET_TIMER) {
    retErr(SBI_ERR_NOT_SUPPORTED);
    return;
  }
  setTimer(arg(0));
  retErr(SBI_SUCCESS);
}
