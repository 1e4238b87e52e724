// `hv run`: boot guests on the virt board, QEMU-style, each in a child
// partition of the hypervisor.
//
//   hv run [options] FILE.elf            same as -bios none -kernel FILE.elf
//   hv run -bios FW -kernel IMAGE ...    firmware at 0x8000_0000, kernel at 0x8020_0000
//   hv run -bios hv -kernel IMAGE ...    no firmware: the hypervisor is the SBI firmware
//                                        (as KVM is), IMAGE starts in S-mode
//   hv run A.elf B.elf ...               each FILE in a partition of its own, at once
//   hv run --config vm.json              the partitions a VM config describes
//
// Exit status: the guest's (0 on pass/poweroff, its failure code otherwise),
// 124 on --timeout or --max-insns, 2 on bad usage or input.
import { defaultJitMode, JIT_MODES, type JitMode } from '../jit/tier.ts';
import { readVmConfig } from '../config/vm-config.ts';
import { checkHost, IC_NAMES, partitionSpec, SpecError, type HostSpec, type PartitionSpec } from '../host/spec.ts';
import { integerOption, optionValue, parseArgs, type Parsed } from './args.ts';
import { type CommonOptions, commonOptions } from './common.ts';
import { UsageError } from './errors.ts';
import { parseSize, SizeError } from '../../drivers/board/size.ts';
import { parseDrive } from './drive.ts';
import { parseNic } from './nic.ts';
import { partitionNames, runPartitions } from './partitions.ts';

const SPEC = {
  m: { value: true },
  smp: { value: true },
  bios: { value: true },
  kernel: { value: true },
  append: { value: true },
  initrd: { value: true },
  drive: { value: true, repeat: true },
  device: { value: true, repeat: true },
  nic: { value: true, repeat: true },
  config: { value: true },
  pcpus: { value: true },
  'host-memory': { value: true },
  deterministic: { value: false },
  nographic: { value: false },
  'no-reboot': { value: false },
  timeout: { value: true },
  'max-insns': { value: true },
  stats: { value: false },
  paging: { value: true },
  overcommit: { value: false },
  salt: { value: true },
  balloon: { value: true },
  swap: { value: true },
  'dynamic-memory': { value: false },
  'balloon-policy': { value: true },
  icount: { value: false },
  jit: { value: true },
  save: { value: true },
  'save-after-insns': { value: true },
  'migrate-to': { value: true },
  'migrate-after-insns': { value: true },
  'migrate-link-rate': { value: true },
  'snapshot-dir': { value: true },
  'snapshot-after-insns': { value: true, repeat: true },
  'move-disk': { value: true },
  'move-after-insns': { value: true },
  control: { value: true },
  help: { value: false },
  h: { value: false },
} as const;

const HELP = `usage: hv run [options] [FILE.elf...]
       hv run --config vm.json [options]

  -m SIZE            guest RAM (default 128M; suffixes K, M, G)
  -smp N             number of harts (default 1)
  -bios FILE|none|hv firmware loaded at 0x80000000 (ELF or raw binary); none: the
                     kernel runs in M-mode; hv: no firmware, the hypervisor is the
                     SBI v2.0 firmware (as KVM is) and the kernel starts in S-mode
                     on hart 0 (a0 = 0, a1 = device tree), other harts via SBI HSM
  -kernel FILE       kernel image: at 0x80200000 after firmware or with -bios hv
                     (an ELF at its own addresses), in M-mode with -bios none
  -append ARGS       kernel command line (device tree /chosen/bootargs)
  -no-reboot         a reset the guest asks for ends the run (exit status 0)
                     instead of rebooting the partition
  -initrd FILE       initial ramdisk (device tree linux,initrd-start/end)
  -drive file=PATH,format=raw|vpc,if=virtio|vmbus[,readonly=on]
                     a virtio-blk disk; drives fill the virtio-mmio slots in order;
                     if=vmbus: a synthetic SCSI disk on VMBus (with -bios hv)
  -device hv-ic      the integration components on VMBus (with -bios hv):
                     heartbeat, shutdown, timesync, KVP (docs/vmbus.md); Ctrl-A g
                     asks the guest to shut down gracefully
  -nic vmbus[,mac=52:54:00:12:34:56]
                     a synthetic NIC on VMBus (with -bios hv) on the host's
                     virtual switch; MAC default 00:15:5d:xx:xx:xx from the name
  --paging MODE      memory virtualization: direct (default), nested (Sv39x4
                     G-stage tables) or shadow (shadow tables, write-protected
                     guest page tables)
  --config FILE      the partitions of a JSON VM config (docs/vm-config.md)
                     instead of FILEs and the options above
  --pcpus N          physical CPUs: worker threads running the vCPU scheduler
                     (default: this machine's parallelism, or the config's)
  --deterministic    every vCPU on one thread in a fixed order (implied by --icount
                     and --max-insns); with --icount, the same guest and input give
                     the same run; with --pcpus N, on the kernel scheduler with N
                     pCPUs (weights, caps, reservations), guest time from the
                     pCPUs' clocks (the same run every time too)
  --jit off|on|always the JIT tier (docs/jit.md): on translates hot guest code to
                     WebAssembly, always translates at first execution (for
                     tests); the same results as off, to the instruction
  --icount           guest time from instruction counts (1 ns each), idle time
                     skipped to the next timer
  --timeout SECONDS  stop the guests after this long (exit status 124); a finite
                     number above 0, at most a year; counts from start-up
  --max-insns N      stop each guest after N steps: instructions retired, traps
                     taken, and idle time in WFI (100 per timer tick, as QEMU's
                     icount; WFI with no timer set spends them all), so every
                     guest stops; implies --icount: the same run every time
                     (exit status 124)
  --overcommit       memory overcommit (docs/memory.md; nested or shadow paging):
                     identical pages share one host frame copy-on-write, and a
                     virtio-balloon device lets the host take pages back
  --salt N           with --overcommit: share with every partition of salt N
                     (1..2147483647; default: within the partition only)
  --balloon SIZE     with --overcommit: ask the guest to keep SIZE of its RAM
  --dynamic-memory   with --overcommit and -bios hv: the balloon is Hyper-V
                     Dynamic Memory on VMBus instead of virtio-balloon
  --balloon-policy auto
                     move the balloon targets of the guests toward those under
                     memory pressure, within what they hold (threaded host;
                     docs/memory.md, "The automatic policy")
  --host-memory SIZE the host's memory for partitions (its frame pool): RAM of
                     --overcommit partitions is allocated as they write it, so
                     they may add up to more; a partition whose tables and
                     reserved RAM do not fit is refused, and one that writes
                     more than the host can reclaim is stopped alone
                     (default: enough for every partition's RAM)
  --swap DIR         with --overcommit: hypervisor swap to a file created in
                     DIR (removed when the partition ends); pages go out when
                     the host's free frames run low (see --host-memory)
  --stats            print instructions, MIPS, TLB and exit figures on stderr
                     (with --overcommit, its pages by where they live)
  --save FILE        save the guest to FILE (hv restore FILE starts it again)
                     after --save-after-insns N steps, or on Ctrl-A s or SIGUSR1,
                     and end the run (exit status 0); one guest
                     (docs/migration.md)
  --save-after-insns N
                     with --save: save after exactly N steps (as --max-insns
                     counts them; implies --icount)
  --migrate-to HOST:PORT
                     live-migrate the guest to the hv serve there (pre-copy while
                     it runs, then a short stop-and-copy) on Ctrl-A s or SIGUSR1;
                     the run here ends once the target runs it (exit status 0); if
                     the migration fails, the guest runs on here (docs/migration.md)
  --migrate-after-insns N
                     with --migrate-to: pre-copy at once, stop-and-copy at exactly
                     step N (deterministic host; implies --icount)
  --migrate-link-rate KB/s
                     with --migrate-to: estimate the downtime (and throttle the guest
                     when it dirties faster) with this link rate instead of the
                     measured one
  --snapshot-dir DIR take live snapshots of the guest into DIR (its snapshot
                     tree: hv snapshot list DIR) on Ctrl-A n or SIGUSR2, or after
                     --snapshot-after-insns N steps (repeatable; implies --icount);
                     the guest runs on, on new differencing disks (VHD disks only)
  --move-disk [N=]PATH
                     move the guest's disk N (default 0, in -drive order) to a new
                     image PATH (.vhd: dynamic VHD, else raw) while it runs: copied
                     in the background with its writes mirrored, then switched to
  --move-after-insns N
                     start the move after N steps (default: at once; implies --icount)
  --control PATH     listen on a Unix socket at PATH for hv control (list, stats,
                     pause, channels, KVP, graceful shutdown, hot add, snapshot,
                     save, migrate, quit; docs/control.md); threaded host only

With several FILEs, each runs in a child partition of its own, all at once on
one hypervisor; console lines are prefixed with the partition's name, and the
exit status is the first failing guest's (in command-line order), or 0.
`;

/** Options that describe a partition, which a VM config describes instead. */
const PARTITION_OPTIONS = ['m', 'smp', 'bios', 'kernel', 'append', 'initrd', 'drive', 'device', 'nic', 'paging', 'no-reboot'] as const;

export async function runCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  if (args.options.has('help') || args.options.has('h')) {
    process.stdout.write(HELP);
    return 0;
  }
  const common = commonOptions(args);
  let host: HostSpec;
  let pcpus = integerOption(args, 'pcpus');
  const hostMemory = sizeOption(args, 'host-memory');
  const config = optionValue(args, 'config');
  if (config !== undefined) {
    for (const o of PARTITION_OPTIONS) if (args.options.has(o)) throw new UsageError(`-${o} cannot be combined with --config (the config describes the partitions)`);
    if (args.positionals.length) throw new UsageError('give the guests either as FILEs or with --config, not both');
    host = readVmConfig(config);
    if (pcpus !== undefined) host = checkOptions({ ...host, pcpus });
    pcpus ??= host.pcpus;
    if (hostMemory !== undefined) host = checkOptions({ ...host, hostMemory });
  } else {
    host = checkOptions({ partitions: commandLineSpecs(args, common), pcpus, ...(hostMemory !== undefined ? { hostMemory } : {}) });
  }
  const deterministic = args.options.has('deterministic') || common.clock === 'icount';
  if (common.migrate) {
    if (host.partitions.length !== 1) throw new UsageError('--migrate-to moves one guest; this run has several');
    if (deterministic && args.options.has('pcpus')) throw new UsageError('--migrate-to on the deterministic host runs round-robin; --pcpus N is not supported with it');
  }
  if (common.save) {
    if (host.partitions.length !== 1) throw new UsageError('--save saves one guest; this run has several');
    if (deterministic && args.options.has('pcpus')) throw new UsageError('--save on the deterministic host runs round-robin; --pcpus N (the kernel scheduler) is not supported with it');
  }
  if (common.live) {
    if (host.partitions.length !== 1) throw new UsageError('--snapshot-dir and --move-disk act on one guest; this run has several');
    // The deterministic host does them in its round-robin only; the threaded host through its control plane.
    if (deterministic && args.options.has('pcpus')) {
      throw new UsageError('--snapshot-dir and --move-disk on the deterministic host run round-robin; --pcpus N (the kernel scheduler) is not supported with them');
    }
  }
  if (common.balloonPolicy && deterministic) {
    throw new UsageError('--balloon-policy auto runs on the threaded host\'s timer: not with --deterministic, --icount or a step count');
  }
  if (common.control !== undefined && deterministic) {
    throw new UsageError('--control drives the threaded host: not with --deterministic, --icount or a step count (--max-insns, --*-after-insns)');
  }
  // Deterministic mode takes pCPUs from --pcpus only (then it runs the kernel scheduler), not from a config.
  if (deterministic && !args.options.has('pcpus')) pcpus = undefined;
  const jit = optionValue(args, 'jit') ?? defaultJitMode();
  if (!(JIT_MODES as readonly string[]).includes(jit)) throw new UsageError(`--jit takes off, on or always, not '${jit}'`);
  return runPartitions(host.partitions, common, { deterministic, pcpus, jit: jit as JitMode, hostMemory: host.hostMemory });
}

/** Which option of the command line sets each field of a PartitionSpec. */
const OPTION_OF: Record<string, string> = {
  name: 'FILE',
  memory: '-m',
  vcpus: '-smp',
  paging: '--paging',
  overcommit: '--overcommit',
  bios: '-bios',
  kernel: '-kernel',
  append: '-append',
  initrd: '-initrd',
  disks: '-drive',
  vmbus: '-device hv-ic',
  nics: '-nic',
  pcpus: '--pcpus',
  hostMemory: '--host-memory',
  partitions: 'the guests',
};

/**
 * The command line's partitions through the rules every partition spec
 * keeps (runtime/host/spec.ts, as a VM config's do); a broken rule is a
 * UsageError naming the option.
 */
function checkOptions(host: HostSpec): HostSpec {
  try {
    return checkHost(host);
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    const m = /^(?:partitions\[\d+\]\.)?(\w+)(?:\[(\d+)\])?/.exec(e.path)!;
    const option = OPTION_OF[m[1]!] ?? m[1]!;
    const which = m[2] === undefined ? '' : ` #${Number(m[2]) + 1}`;
    throw new UsageError(`${option}${which}: ${e.problem}`, { cause: e });
  }
}

/** A size option (K, M, G suffixes), or undefined when it is not given. */
function sizeOption(args: Parsed, name: string): number | undefined {
  const text = optionValue(args, name);
  if (text === undefined) return undefined;
  try {
    return parseSize(text);
  } catch (e) {
    if (e instanceof SizeError) throw new UsageError(`--${name}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** --overcommit [--salt N] [--balloon SIZE] [--dynamic-memory] as a spec's overcommit field (its rules check the values). */
function overcommitOptions(args: Parsed): Pick<PartitionSpec, 'overcommit'> {
  if (!args.options.has('overcommit')) {
    for (const o of ['salt', 'balloon', 'dynamic-memory']) if (args.options.has(o)) throw new UsageError(`--${o} needs --overcommit`);
    return {};
  }
  if (args.options.has('migrate-to')) throw new UsageError('--migrate-to does not support --overcommit yet (live migration copies RAM as one run)');
  const salt = integerOption(args, 'salt');
  const balloonTarget = sizeOption(args, 'balloon');
  const balloon = args.options.has('dynamic-memory') ? { dynamicMemory: true } : { balloon: true };
  return { overcommit: { ...balloon, ...(salt !== undefined ? { salt } : {}), ...(balloonTarget !== undefined ? { balloonTarget } : {}) } };
}

/** --swap DIR: hypervisor swap, added to the overcommit field. */
function swapOption(args: Parsed, o: Pick<PartitionSpec, 'overcommit'>): Pick<PartitionSpec, 'overcommit'> {
  const dir = optionValue(args, 'swap');
  if (dir === undefined) return o;
  if (!o.overcommit) throw new UsageError('--swap needs --overcommit');
  return { overcommit: { ...o.overcommit, swap: { dir } } };
}

/** The partitions FILEs and QEMU-style options describe. */
function commandLineSpecs(args: Parsed, common: CommonOptions): PartitionSpec[] {
  const base = {
    memory: common.ramSize, vcpus: common.harts, paging: common.paging, append: optionValue(args, 'append'),
    ...(args.options.has('no-reboot') ? { reboot: false } : {}),
    ...swapOption(args, overcommitOptions(args)),
  };
  if (args.positionals.length > 1) {
    // hv run A.elf B.elf ...: each guest in a child partition of its own.
    for (const o of ['bios', 'kernel', 'initrd', 'drive', 'device', 'nic'] as const) {
      if (args.options.has(o)) throw new UsageError(`-${o} applies to a single guest; several FILEs each run bare (-bios none)`);
    }
    const names = partitionNames(args.positionals);
    return args.positionals.map((kernel, i) => partitionSpec(names[i]!, kernel, base));
  }
  const bios = optionValue(args, 'bios');
  let kernel = optionValue(args, 'kernel');
  if (args.positionals.length === 1) {
    if (kernel !== undefined) throw new UsageError('give the guest either as FILE or with -kernel, not both');
    if (bios !== undefined && bios !== 'none' && bios !== 'hv') throw new UsageError('a positional FILE runs without firmware; use -kernel with -bios');
    kernel = args.positionals[0];
  }
  const enlightened = bios === 'hv'; // the hypervisor is the SBI firmware
  if (kernel === undefined && (bios === undefined || bios === 'none')) throw new UsageError('no guest given (FILE.elf, or -bios/-kernel)');
  if (kernel === undefined && enlightened) throw new UsageError('-bios hv needs a kernel (-kernel FILE, or FILE)');
  const spec = partitionSpec(partitionNames([kernel ?? bios!])[0]!, kernel!, {
    ...base,
    boot: enlightened ? 'enlightened' : 'firmware',
    disks: (args.options.get('drive') ?? []).map((text) => parseDrive(text)),
  });
  const nics = (args.options.get('nic') ?? []).map((text) => parseNic(text));
  if (nics.length) spec.nics = nics;
  if (kernel === undefined) delete spec.kernel;
  for (const device of args.options.get('device') ?? []) {
    if (device !== 'hv-ic') throw new UsageError(`-device: '${device}' is not a device hv run offers (hv-ic)`);
    spec.vmbus = { ic: [...IC_NAMES] };
  }
  if (bios !== undefined && bios !== 'none' && bios !== 'hv') spec.bios = bios;
  const initrd = optionValue(args, 'initrd');
  if (initrd !== undefined) spec.initrd = initrd;
  if (spec.append === undefined) delete spec.append;
  return [spec];
}
