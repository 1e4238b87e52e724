// Base extension (EID 0x10, spec chapter 4): versions, ids, probing.
import { arg, fid, ret, retErr } from './abi';
import {
  BASE_GET_IMPL_ID, BASE_GET_IMPL_VERSION, BASE_GET_MARCHID, BASE_GET_MIMPID, BASE_GET_MVENDORID,
  BASE_GET_SPEC_VERSION, BASE_PROBE_EXTENSION, EID_BASE, EID_DBCN, EID_HSM, EID_HV, EID_IPI,
  EID_LEGACY_SHUTDOWN, EID_RFENCE, EID_SRST, EID_TIME, SBI_ERR_NOT_SUPPORTED, SBI_IMPL_ID,
  SBI_IMPL_VERSION, SBI_SPEC_VERSION, SBI_SUCCESS,
} from './defs';

/** probe_extension: 1 for every extension this dispatcher implements, else 0. */
export function extensionAvailable(e: u64): bool {
  return e <= EID_LEGACY_SHUTDOWN || e == EID_BASE || e == EID_TIME || e == EID_IPI || e == EID_RFENCE ||
    e == EID_HSM || e == EID_SRST || e == EID_DBCN || e == EID_HV;
}

export function sbiBase(): void {
  switch (fid()) {
    case BASE_GET_SPEC_VERSION: ret(SBI_SUCCESS, SBI_SPEC_VERSION); return;
    case BASE_GET_IMPL_ID: ret(SBI_SUCCESS, SBI_IMPL_ID); return;
    case BASE_GET_IMPL_VERSION: ret(SBI_SUCCESS, SBI_IMPL_VERSION); return;
    case BASE_PROBE_EXTENSION: ret(SBI_SUCCESS, extensionAvailable(arg(0)) ? 1 : 0); return;
    // The virtual hart's mvendorid, marchid and mimpid CSRs read as 0 ("not implemented").
    case BASE_GET_MVENDORID: case BASE_GET_MARCHID: case BASE_GET_MIMPID: ret(SBI_SUCCESS, 0); return;
    default: retErr(SBI_ERR_NOT_SUPPORTED);
  }
}
