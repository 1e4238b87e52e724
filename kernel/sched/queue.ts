// Run queues and blocked lists: doubly linked lists of vCPU indices threaded
// through S_NEXT / S_PREV in the vCPU blocks, headed in the pCPU block. A
// vCPU is on at most one list. Every function here runs with the owning
// pCPU's lock held (lockPcpu in defs.ts).
import { vcpuAddr } from '../layout';
import {
  NIL, S_NEXT, S_PREV, S_STATE, C_RQ_HEAD, C_RQ_TAIL, C_RQ_LEN, C_BL_HEAD, C_BL_TAIL, C_BL_LEN, SState,
} from './defs';

function append(c: usize, head: u32, tail: u32, len: u32, v: u32): void {
  const va = vcpuAddr(v);
  const t = load<u32>(c + tail);
  store<u32>(va + S_NEXT, NIL);
  store<u32>(va + S_PREV, t);
  if (t == NIL) store<u32>(c + head, v);
  else store<u32>(vcpuAddr(t) + S_NEXT, v);
  store<u32>(c + tail, v);
  atomic.store<u32>(c + len, load<u32>(c + len) + 1);
}

function unlink(c: usize, head: u32, tail: u32, len: u32, v: u32): void {
  const va = vcpuAddr(v);
  const n = load<u32>(va + S_NEXT);
  const p = load<u32>(va + S_PREV);
  if (p == NIL) store<u32>(c + head, n);
  else store<u32>(vcpuAddr(p) + S_NEXT, n);
  if (n == NIL) store<u32>(c + tail, p);
  else store<u32>(vcpuAddr(n) + S_PREV, p);
  store<u32>(va + S_NEXT, NIL);
  store<u32>(va + S_PREV, NIL);
  atomic.store<u32>(c + len, load<u32>(c + len) - 1);
}

/** Queues `v` at the tail of pCPU `c`'s run queue (state QUEUED). */
export function rqAppend(c: usize, v: u32): void {
  append(c, C_RQ_HEAD, C_RQ_TAIL, C_RQ_LEN, v);
  atomic.store<u32>(vcpuAddr(v) + S_STATE, SState.QUEUED);
}

export function rqRemove(c: usize, v: u32): void {
  unlink(c, C_RQ_HEAD, C_RQ_TAIL, C_RQ_LEN, v);
}

/** Puts `v` on pCPU `c`'s blocked list (state BLOCKED). */
export function blAppend(c: usize, v: u32): void {
  append(c, C_BL_HEAD, C_BL_TAIL, C_BL_LEN, v);
  atomic.store<u32>(vcpuAddr(v) + S_STATE, SState.BLOCKED);
}

export function blRemove(c: usize, v: u32): void {
  unlink(c, C_BL_HEAD, C_BL_TAIL, C_BL_LEN, v);
}

export function listsInit(c: usize): void {
  store<u32>(c + C_RQ_HEAD, NIL);
  store<u32>(c + C_RQ_TAIL, NIL);
  store<u32>(c + C_RQ_LEN, 0);
  store<u32>(c + C_BL_HEAD, NIL);
  store<u32>(c + C_BL_TAIL, NIL);
  store<u32>(c + C_BL_LEN, 0);
}
