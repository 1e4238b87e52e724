// CPU time of this process's threads and of its child processes' threads
// (Chromium's renderer and GPU processes under playwright), from Linux's
// /proc/<pid>/task/<tid>/stat. A guest's speed per CPU second of the thread
// that ran it does not depend on how loaded the machine is, as wall-clock
// MIPS does; the bench compares engines with it.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of utime/stime (USER_HZ: 100 on every Linux port we run on). */
const TICKS_PER_S = 100;

export interface ThreadCpu {
  /** "pid/tid comm". */
  thread: string;
  seconds: number;
}

function statFields(path: string): string[] | undefined {
  try {
    const s = readFileSync(path, 'latin1');
    // comm is in parentheses and may hold spaces: fields start after the last ')'.
    const close = s.lastIndexOf(')');
    return [s.slice(s.indexOf('(') + 1, close), ...s.slice(close + 2).split(' ')];
  } catch {
    return undefined; // gone meanwhile
  }
}

/** This process and its descendants. */
function family(): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(`/proc/${d}/stat`);
    if (f) parent.set(Number(d), Number(f[2])); // [comm, state, ppid, ...]
  }
  const ours = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) if (!ours.has(pid) && ours.has(ppid)) (ours.add(pid), (grew = true));
  }
  return [...ours];
}

/** CPU seconds so far of every thread of the family, by "pid/tid comm". */
export function threadTimes(): Map<string, number> {
  const times = new Map<string, number>();
  for (const pid of family()) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      const f = statFields(`/proc/${pid}/task/${tid}/stat`);
      // utime and stime are fields 14 and 15 of stat(5); f[0] is field 2.
      if (f) times.set(`${pid}/${tid} ${f[0]}`, (Number(f[12]) + Number(f[13])) / TICKS_PER_S);
    }
  }
  return times;
}

/** What each thread used between two threadTimes(), busiest first. */
export function cpuBetween(before: Map<string, number>, after: Map<string, number>): ThreadCpu[] {
  return [...after]
    .map(([thread, s]) => ({ thread, seconds: s - (before.get(thread) ?? 0) }))
    .filter((t) => t.seconds > 0)
    .sort((a, b) => b.seconds - a.seconds);
}
