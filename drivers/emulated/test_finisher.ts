// SiFive test finisher ("sifive,test0", QEMU hw/misc/sifive_test.c): one
// write-only register at offset 0 that ends the simulation. The low 16 bits
// select the action, the high 16 bits carry the failure code:
//   0x5555            pass  -> power off, exit status 0
//   (code<<16)|0x3333 fail  -> power off, exit status `code`
//   0x7777            reset
// Linux and OpenSBI reach it through the syscon-poweroff / syscon-reboot
// nodes of the device tree. Other values, offsets and reads do nothing.

import { FINISHER_FAIL, FINISHER_PASS, FINISHER_RESET, MEMMAP } from '../board/memmap.ts';
import { type AccessSize, type MmioDevice, sizeMask } from './device.ts';

export type FinisherEvent =
  | { kind: 'poweroff'; code: 0 } // pass
  | { kind: 'fail'; code: number } // guest-reported failure, code 0..0xffff
  | { kind: 'reset' };

export class TestFinisher implements MmioDevice {
  readonly name = 'test';
  readonly stateVersion = 1;
  readonly size = MEMMAP.test.size;

  constructor(private readonly onExit: (event: FinisherEvent) => void) {}

  read(_offset: number, _size: AccessSize): number {
    return 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    // QEMU accepts 2- and 4-byte accesses; a 1-byte store cannot hold a command.
    if (offset !== 0 || (size !== 2 && size !== 4)) return;
    const v = (value & sizeMask(size)) >>> 0;
    const status = v & 0xffff;
    const code = v >>> 16;
    if (status === FINISHER_PASS) this.onExit({ kind: 'poweroff', code: 0 });
    else if (status === FINISHER_FAIL) this.onExit({ kind: 'fail', code });
    else if (status === FINISHER_RESET) this.onExit({ kind: 'reset' });
  }

  reset(): void {}

  save(): object {
    return {};
  }

  restore(_state: object): void {}
}
