// Images into a partition's RAM before it boots (and again at a reboot):
// ELF segments, raw bytes, the device tree and an initrd, where QEMU's
// virt machine puts them. Writes go to the RAM run (marking the dirty log:
// a reboot reloads over code the JIT may have translated) or, with
// overcommit, through its pages.
import { writeVirtDtb } from '../../drivers/board/dtb.ts';
import { MEMMAP } from '../../drivers/board/memmap.ts';
import type { PagedGuestMemory } from '../../drivers/emulated/guest-pages.ts';
import type { KernelDirtyLog } from '../../drivers/emulated/dirty.ts';
import { ElfError, type ElfImage } from '../loader/elf.ts';
import type { MachineConfig } from './types.ts';

const RAM_BASE = MEMMAP.dram.base;

export class RamLoader {
  constructor(
    private readonly config: MachineConfig,
    private readonly ram: Uint8Array,
    private readonly dirty: KernelDirtyLog,
    private readonly pages: PagedGuestMemory | undefined,
  ) {}

  /** Copies an ELF's segments into RAM, zeroing each past its file bytes. */
  loadSegments(image: ElfImage): void {
    for (const s of image.segments) {
      const off = s.addr - BigInt(RAM_BASE);
      if (s.addr < BigInt(RAM_BASE) || off + s.memSize > BigInt(this.config.ramSize)) {
        throw new ElfError(
          `segment at 0x${s.addr.toString(16)} (${s.memSize} bytes) lies outside RAM ` +
            `0x${RAM_BASE.toString(16)}-0x${(RAM_BASE + this.config.ramSize).toString(16)}`,
        );
      }
      if (this.pages) {
        this.pages.write(Number(s.addr), s.data);
        this.pages.zero(Number(s.addr) + s.data.length, Number(s.memSize) - s.data.length);
      } else {
        this.ram.set(s.data, Number(off));
        this.ram.fill(0, Number(off) + s.data.length, Number(off + s.memSize));
        this.dirty.mark(Number(off), Number(s.memSize));
      }
    }
  }

  /** Copies raw bytes into RAM at guest-physical `addr`. */
  loadRaw(bytes: Uint8Array, addr: number, what: string): void {
    const off = addr - RAM_BASE;
    if (off < 0 || off + bytes.length > this.config.ramSize) {
      throw new RangeError(`${what} (${bytes.length} bytes at 0x${addr.toString(16)}) does not fit in RAM`);
    }
    if (this.pages) this.pages.write(addr, bytes);
    else {
      this.ram.set(bytes, off);
      this.dirty.mark(off, bytes.length);
    }
  }

  /**
   * Places the device tree where QEMU does (the top of RAM below 3 GiB,
   * 2 MiB-aligned... or 4 KiB-aligned when RAM is small) and returns its address.
   */
  placeDtb(initrd?: { start: number; end: number }): number {
    const dtb = writeVirtDtb({ harts: this.config.harts, ramSize: this.config.ramSize, bootargs: this.config.bootargs, initrd });
    const end = Math.min(RAM_BASE + this.config.ramSize, 0xc000_0000);
    // QEMU's 2 MiB alignment, unless RAM is so small that it would land on
    // the loaded image at the bottom: then the last pages, 4 KiB-aligned.
    let addr = Math.floor((end - dtb.length) / 0x20_0000) * 0x20_0000;
    if (addr < RAM_BASE + this.config.ramSize / 2) addr = Math.floor((end - dtb.length) / 4096) * 4096;
    this.loadRaw(dtb, addr, 'device tree');
    return addr;
  }

  /**
   * Loads an initial ramdisk where QEMU puts it (kernel + min(RAM/2, 128 MiB),
   * clear of the kernel as it unpacks) and returns its range for the device tree.
   */
  loadInitrd(bytes: Uint8Array, kernelAddr: number): { start: number; end: number } {
    const start = this.initrdAddress(kernelAddr);
    this.loadRaw(bytes, start, 'initrd');
    return { start, end: start + bytes.length };
  }

  /** Where loadInitrd puts an initrd for a kernel at `kernelAddr`. */
  initrdAddress(kernelAddr: number): number {
    return kernelAddr + Math.min(Math.floor(this.config.ramSize / 2), 128 << 20);
  }
}
