// `npm run bench [NAME...]`: every benchmark prints its figure and, where a
// reference exists, the ratio against it measured in the same run.
import { benchBoot } from './boot.ts';
import { benchBrowser } from './browser.ts';
import { benchCpu } from './cpu.ts';
import { benchLinux } from './linux.ts';
import { benchContextSwitch, benchPaging } from './paging.ts';
import { benchPartitions, benchPartitionsThreaded } from './partitions.ts';
import { benchExits, benchSmp } from './threads.ts';

const BENCHES: Record<string, () => Promise<void>> = {
  cpu: benchCpu,
  boot: benchBoot,
  paging: benchPaging,
  ctxsw: benchContextSwitch,
  partitions: async () => {
    await benchPartitions();
    await benchPartitionsThreaded();
  },
  smp: benchSmp,
  exits: benchExits,
  vhd: async () => (await import('./vhd.ts')).benchVhd(),
  linux: benchLinux,
  migrate: async () => (await import('./migrate.ts')).benchMigrate(),
  vmbus: async () => (await import('./vmbus.ts')).benchVmbus(),
  vswitch: async () => (await import('./vswitch.ts')).benchVswitch(),
  memory: async () => (await import('./memory.ts')).benchMemory(),
  density: async () => (await import('./density.ts')).benchDensity(),
  browser: benchBrowser,
};

const wanted = process.argv.slice(2);
for (const [name, run] of Object.entries(BENCHES)) {
  if (wanted.length && !wanted.includes(name)) continue;
  await run();
}
