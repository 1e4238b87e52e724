// Helpers for save/restore tests: `hv` in a fresh process (bundled CLI), and
// the state in a save file, comparable between runs (host-side counters
// such as TLB misses masked: a restored vCPU starts with an empty TLB).
import { spawnSync } from 'node:child_process';
import { inflateRawSync } from 'node:zlib';
import { readContainer } from '../../runtime/persist/container.ts';
import { decodeRecords } from '../../runtime/persist/record.ts';
import { Hypervisor } from '../../runtime/host/hypervisor.ts';

export function hv(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/hv.js', ...args], { encoding: 'latin1', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Host-side statistics: how the host ran the guest, not what the guest did. */
const HOST_COUNTERS = [
  'STAT_TLB_LOOKUPS', 'STAT_TLB_MISSES', 'STAT_WALKS', 'STAT_WALK_REFS', 'STAT_GWALKS', 'STAT_GWALK_REFS',
  'STAT_SHADOW_FILLS', 'STAT_WP_FAULTS', 'STAT_SHADOW_FLUSHES', 'STAT_TLB_FLUSHES', 'STAT_TLB_INVALS',
  // Instructions retired in translated code: a restored vCPU's thread has no translations yet.
  'STAT_JIT_INSNS',
];
/**
 * Shootdowns queued for a vCPU (mm/shootdown.ts: frames whose TLB entries
 * it must drop): host bookkeeping too. A restored vCPU starts with an empty
 * TLB, and its host remakes what it had only as it runs (with the JIT, a
 * frame becoming code again queues a shootdown for the other vCPUs).
 */
const MM_REQUESTS = { from: 'MM_REQ', to: 'MM_FRAMES', frames: 13 };
let offsets: Record<string, number> | undefined;

/** The guest state in save file `path`: every record (vCPU host counters zeroed) and the RAM, by name. */
export function guestState(path: string): Map<string, Buffer> {
  offsets ??= new Hypervisor(0x10_0000).kernel.layout.off;
  const sections = readContainer(path);
  const out = new Map<string, Buffer>();
  for (const r of decodeRecords(inflateRawSync(sections.get('STAT')!.payload), 'STAT')) {
    if (r.kind === 'disks') continue; // paths and times of each run's own images
    const body = Buffer.from(r.body);
    if (r.kind.startsWith('vcpu')) {
      for (const c of HOST_COUNTERS) body.fill(0, 4 + offsets[c]!, 4 + offsets[c]! + 8);
      body.fill(0, 4 + offsets[MM_REQUESTS.from]!, 4 + offsets[MM_REQUESTS.to]! + 4 * MM_REQUESTS.frames);
    }
    out.set(r.kind, body);
  }
  out.set('ram', Buffer.from(sections.get('MEM ')!.payload));
  return out;
}
