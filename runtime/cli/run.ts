// `hv run`: boot a guest on the virt board, QEMU-style.
//
//   hv run [options] FILE.elf            same as -bios none -kernel FILE.elf
//   hv run -bios FW -kernel IMAGE ...    firmware at 0x8000_0000, kernel at 0x8020_0000
//   hv run -bios hv -kernel IMAGE ...    no firmware: the hypervisor is the SBI firmware
//                                        (as KVM is), IMAGE starts in S-mode
//
// Exit status: the guest's (0 on pass/poweroff, its failure code otherwise),
// 124 on --timeout or --max-insns, 2 on bad usage or input.
import { MEMMAP } from '../../drivers/board/memmap.ts';
import { parseElf } from '../loader/elf.ts';
import { Machine } from '../machine/machine.ts';
import { optionValue, parseArgs } from './args.ts';
import { commonOptions, exitStatus, isElf, printStats, readInput } from './common.ts';
import { UsageError } from './errors.ts';
import { attachConsole } from './console.ts';
import { openDrive, parseDrive } from './drive.ts';
import { runPartitions } from './partitions.ts';

const KERNEL_OFFSET = 0x20_0000; // QEMU loads -kernel 2 MiB above the firmware on RV64

const SPEC = {
  m: { value: true },
  smp: { value: true },
  bios: { value: true },
  kernel: { value: true },
  append: { value: true },
  initrd: { value: true },
  drive: { value: true, repeat: true },
  nographic: { value: false },
  timeout: { value: true },
  'max-insns': { value: true },
  stats: { value: false },
  paging: { value: true },
  icount: { value: false },
  help: { value: false },
  h: { value: false },
} as const;

const HELP = `usage: hv run [options] [FILE.elf...]

  -m SIZE            guest RAM (default 128M; suffixes K, M, G)
  -smp N             number of harts (default 1)
  -bios FILE|none|hv firmware loaded at 0x80000000 (ELF or raw binary); none: the
                     kernel runs in M-mode; hv: no firmware, the hypervisor is the
                     SBI v2.0 firmware (as KVM is) and the kernel starts in S-mode
                     on hart 0 (a0 = 0, a1 = device tree), other harts via SBI HSM
  -kernel FILE       kernel image: at 0x80200000 after firmware or with -bios hv
                     (an ELF at its own addresses), in M-mode with -bios none
  -append ARGS       kernel command line (device tree /chosen/bootargs)
  -initrd FILE       initial ramdisk (device tree linux,initrd-start/end)
  -drive file=PATH,format=raw|vpc,if=virtio[,readonly=on]
                     a virtio-blk disk; drives fill the virtio-mmio slots in order
  --timeout SECONDS  stop the guest after this long (exit status 124)
  --max-insns N      stop after N instructions (exit status 124)
  --icount           guest time from instruction counts (deterministic)
  --paging MODE      memory virtualization: direct (default), nested (Sv39x4
                     G-stage tables) or shadow (shadow tables, write-protected
                     guest page tables)
  --stats            print instructions, MIPS and TLB figures on stderr

With several FILEs, each runs in a child partition of its own, all at once on
one hypervisor; console lines are prefixed with the partition's name, and the
exit status is the first failing guest's (in command-line order), or 0.
`;

export async function runCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  if (args.options.has('help') || args.options.has('h')) {
    process.stdout.write(HELP);
    return 0;
  }
  const common = commonOptions(args);
  const { ramSize, harts, timeout, timeoutMs, maxInsns, paging } = common;
  if (args.positionals.length > 1) {
    // hv run A.elf B.elf ...: each guest in a child partition of its own.
    for (const o of ['bios', 'kernel', 'initrd', 'drive'] as const) {
      if (args.options.has(o)) throw new UsageError(`-${o} applies to a single guest; several FILEs each run bare (-bios none)`);
    }
    return runPartitions(args.positionals, common);
  }
  const bios = optionValue(args, 'bios');
  let kernel = optionValue(args, 'kernel');
  if (args.positionals.length === 1) {
    if (kernel !== undefined) throw new UsageError('give the guest either as FILE or with -kernel, not both');
    if (bios !== undefined && bios !== 'none' && bios !== 'hv') throw new UsageError('a positional FILE runs without firmware; use -kernel with -bios');
    kernel = args.positionals[0];
  }
  const sbi = bios === 'hv'; // the hypervisor is the SBI firmware
  if (kernel === undefined && (bios === undefined || bios === 'none')) throw new UsageError('no guest given (FILE.elf, or -bios/-kernel)');
  if (kernel === undefined && sbi) throw new UsageError('-bios hv needs a kernel (-kernel FILE, or FILE)');
  const drives = (args.options.get('drive') ?? []).map((text) => openDrive(parseDrive(text)));
  // However the run ends (guest exit, Ctrl-A x, a signal), disks are closed:
  // closing flushes, so every write the guest completed reaches the image.
  let closed = false;
  const closeDrives = () => {
    if (closed) return;
    closed = true;
    for (const d of drives) d.close();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    closeDrives();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', closeDrives);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const machine = new Machine({
    paging,
    drives,
    ramSize,
    harts,
    bootargs: optionValue(args, 'append'),
    clock: common.clock,
    onConsole: (bytes) => process.stdout.write(bytes),
  });

  const ramBase: number = MEMMAP.dram.base;
  /** Loads an ELF where its headers say, or raw bytes at `rawAddr`; returns its entry and load address. */
  const load = (path: string, what: string, rawAddr: number): { entry: bigint; addr: number } => {
    const bytes = readInput(path, what);
    if (isElf(bytes)) {
      const entry = machine.loadElf(parseElf(bytes));
      return { entry, addr: Number(entry) };
    }
    machine.loadRaw(bytes, rawAddr, what);
    return { entry: BigInt(rawAddr), addr: rawAddr };
  };
  let entry: bigint;
  let kernelAddr: number = ramBase;
  if (sbi) {
    ({ entry, addr: kernelAddr } = load(kernel!, 'kernel', ramBase + KERNEL_OFFSET));
  } else if (bios !== undefined && bios !== 'none') {
    load(bios, 'firmware', ramBase);
    entry = BigInt(ramBase); // QEMU starts every hart at the firmware's base
    if (kernel !== undefined) kernelAddr = load(kernel, 'kernel', ramBase + KERNEL_OFFSET).addr;
  } else {
    entry = load(kernel!, 'kernel', ramBase).entry;
  }
  const initrdPath = optionValue(args, 'initrd');
  const initrd = initrdPath === undefined ? undefined : machine.loadInitrd(readInput(initrdPath, 'initrd'), kernelAddr);
  const dtb = machine.placeDtb(initrd);
  if (sbi) machine.bootEnlightened(entry, dtb);
  else machine.boot(entry, dtb);

  const detach = attachConsole(machine);
  let result;
  try {
    result = await machine.run({ timeoutMs, maxInsns });
  } finally {
    detach();
    closeDrives();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (common.stats) printStats(machine.stats());
  return exitStatus(result, { timeout, maxInsns });
}
