// Debug Console (EID 0x4442434E "DBCN", spec chapter 12).
//
// Addresses are guest-physical (the spec's "shared memory physical address
// range"): a range that is not wholly RAM of the caller's partition, or a
// non-zero base_addr_hi (no physical address is that wide), is
// INVALID_ADDRESS; a range PMP forbids to S-mode is INVALID_PARAM. Bytes go
// through the console rings of console.ts: console_write is non-blocking
// and may write fewer bytes than asked (it then asks the host to drain the
// ring, so a retry makes progress); console_write_byte blocks by retrying
// the ECALL after the host has drained the ring.
import { ACC_LOAD, ACC_STORE } from '../mmu/tlb';
import { arg, callerPartition, fid, ret, retErr } from './abi';
import {
  SBI_ERR_INVALID_ADDRESS, SBI_ERR_INVALID_PARAM, SBI_ERR_NOT_SUPPORTED, SBI_NEXT, SBI_RETRY, SBI_SUCCESS,
  SbiExit,
} from './defs';
import { hostExit } from './exits';
import { consoleFree, consoleGet, consolePut, consoleWrite } from './console';
import { devicesExit } from '../platform/mmio';
import { partitionHostForStore } from '../mm/gpa';
import { physAllowed, physHost, physHostForStore, physIsRam, physMapped, toPageEnd } from './guestmem';

const DBCN_CONSOLE_WRITE: u32 = 0;
const DBCN_CONSOLE_READ: u32 = 1;
const DBCN_CONSOLE_WRITE_BYTE: u32 = 2;

export function sbiDbcn(): u32 {
  switch (fid()) {
    case DBCN_CONSOLE_WRITE: consoleWriteCall(arg(0), arg(1), arg(2)); return SBI_NEXT;
    case DBCN_CONSOLE_READ: consoleReadCall(arg(0), arg(1), arg(2)); return SBI_NEXT;
    case DBCN_CONSOLE_WRITE_BYTE: {
      if (!putByte(<u8>arg(0))) return SBI_RETRY;
      retErr(SBI_SUCCESS);
      return SBI_NEXT;
    }
    default: retErr(SBI_ERR_NOT_SUPPORTED); return SBI_NEXT;
  }
}

/** A blocking one-byte write: false (and a drain request) when the ring is full. */
export function putByte(b: u8): bool {
  if (consolePut(b)) {
    // On threaded hosts (devices on another thread) a vCPU's ring is drained
    // only at exits and now and then: an exit per finished line keeps the
    // lines of different vCPUs in the order they were written.
    if (b == 10 && devicesExit()) hostExit(SbiExit.CONSOLE);
    return true;
  }
  hostExit(SbiExit.CONSOLE);
  return false;
}

/** SBI_SUCCESS, or the error for a bad range of `n` bytes at `lo`/`hi` accessed as `acc`. */
function checkRange(n: u64, lo: u64, hi: u64, acc: u32): i64 {
  if (hi != 0 || !physIsRam(lo, n)) return SBI_ERR_INVALID_ADDRESS;
  if (!physAllowed(lo, n, acc)) return SBI_ERR_INVALID_PARAM;
  return SBI_SUCCESS;
}

function consoleWriteCall(n: u64, lo: u64, hi: u64): void {
  if (n == 0) {
    ret(SBI_SUCCESS, 0);
    return;
  }
  const err = checkRange(n, lo, hi, ACC_LOAD);
  if (err != SBI_SUCCESS) {
    retErr(err);
    return;
  }
  const free = consoleFree();
  let todo: u32 = n < <u64>free ? <u32>n : free;
  if (todo && !physMapped(lo, todo)) {
    retErr(SBI_ERR_INVALID_ADDRESS);
    return;
  }
  const written = todo;
  let gpa = lo;
  let newline = false;
  while (todo) {
    const chunk = min(todo, toPageEnd(gpa));
    newline |= consoleWrite(physHost(gpa), chunk);
    gpa += chunk;
    todo -= chunk;
  }
  if (<u64>written < n || (newline && devicesExit())) hostExit(SbiExit.CONSOLE);
  ret(SBI_SUCCESS, written);
}

function consoleReadCall(n: u64, lo: u64, hi: u64): void {
  if (n == 0) {
    ret(SBI_SUCCESS, 0);
    return;
  }
  const err = checkRange(n, lo, hi, ACC_STORE);
  if (err != SBI_SUCCESS) {
    retErr(err);
    return;
  }
  const p = callerPartition();
  let got: u64 = 0;
  let host: i64 = -1;
  let pageStart: u64 = 0;
  while (got < n) {
    // Each page's host address before a byte is taken from the input ring.
    // The first page may exit to have it swapped in (the call runs again,
    // mm/swap.ts); a later page without a frame now (swapped out, no frame
    // in the pool) ends the read short instead, so no byte taken is lost.
    if (got == 0 || ((lo + got) & 0xfff) == 0) {
      if (got == 0 && !physMapped(lo, 1)) {
        retErr(SBI_ERR_INVALID_ADDRESS);
        return;
      }
      host = got == 0 ? physHostForStore(lo) : partitionHostForStore(p, lo + got, 0);
      pageStart = got;
      if (host < 0) break;
    }
    const b = consoleGet(p);
    if (b < 0) break;
    store<u8>(<usize>host + <usize>(got - pageStart), <u8>b);
    got++;
  }
  ret(SBI_SUCCESS, got);
}
