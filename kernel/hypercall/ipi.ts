// IPI extension (EID 0x735049 "sPI", spec chapter 7): send_ipi sets SSIP on
// every target hart of the caller's partition.
import { arg, fid, retErr } from './abi';
import { SBI_ERR_INVALID_PARAM, SBI_ERR_NOT_SUPPORTED, SBI_SUCCESS } from './defs';
import { hartMaskApply, hartMaskValid, OP_IPI } from './harts';

const IPI_SEND_IPI: u32 = 0;

export function sbiIpi(): void {
  if (fid() != IPI_SEND_IPI) {
    retErr(SBI_ERR_NOT_SUPPORTED);
    return;
  }
  const mask = arg(0), base = arg(1);
  if (!hartMaskValid(mask, base)) {
    retErr(SBI_ERR_INVALID_PARAM);
    return;
  }
  hartMaskApply(mask, base, OP_IPI);
  retErr(SBI_SUCCESS);
}
