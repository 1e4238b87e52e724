// Dirty logging: which guest pages a partition wrote since the host last
// asked (live migration's pre-copy rounds, docs/migration.md), in every
// paging mode, as KVM's KVM_GET_DIRTY_LOG does it.
//
// The log is two bitmaps in the frame pool, 1 bit per 4 KiB RAM page (bit
// `page & 31` of u32 word `page >> 5`): the live one vCPUs and the host's
// device models set bits in, and the fetched one the host reads. A fetch
// swaps the live words into the fetched ones atomically (atomic.xchg), so a
// bit a vCPU on another pCPU sets meanwhile lands either in this fetch or
// in the next, never nowhere.
//
// What marks a page: every write into guest RAM asks for its host address
// through gpaToHostForStore (mm/gpa.ts), the one choke point: the store TLB
// fill (mmu/access.ts), the walk's A/D updates (mmu/walk.ts), SBI calls
// writing guest memory (hypercall/guestmem.ts); host-side writes (device
// DMA, HTIF) mark through drivers/emulated/dirty.ts. A store TLB entry is
// filled only by a marking translation, so while the page's bit is set the
// entry may skip the slow path: the page is dirty already.
//
// Clearing a bit (arming, fetching) therefore makes every store TLB entry a
// way to skip the log. Shadow entries are not a way (a store hit in the
// shadow is ignored while logging: mmu/access.ts), fetch and load entries
// never were. So arm and fetch bump the partition's generation; a vCPU whose
// H_DIRTY_SEEN differs drops its store entries (tlbDropStores) before it
// runs again, and one running now is kicked to end its chunk. The host
// copies pages only once dirtyLogSynced says every vCPU has done so:
//
//   vCPU (before run)          host (fetch)
//   RUNNING = 1                gen++
//   read gen; drop if new      for each vCPU: RUNNING? kick
//   ... run ...                synced = every vCPU RUNNING == 0 or SEEN == gen
//   RUNNING = 0
//
// (wasm atomics are sequentially consistent: either the vCPU reads the new
// generation, or the host sees it RUNNING and waits for it.)
import { hart, H_ATTENTION, H_DIRTY_RUNNING, H_DIRTY_SEEN, H_PARTITION, H_PREEMPT } from '../cpu/hart';
import { PAGE_SIZE, vcpuAddr } from '../layout';
import { tlbDropStores } from '../mmu/tlb';
import { framesAllocContiguous, framesFreeRun } from './frames';
import { partitionAddr, P_DIRTY_BITMAP, P_DIRTY_GEN, P_DIRTY_ON, P_FIRST_VCPU, P_NVCPUS, P_RAM_GPA, P_RAM_SIZE } from './partition';

/** Bytes of one bitmap of partition `p`, rounded up to whole frames. */
function bitmapBytes(p: usize): u32 {
  const pages = <u32>((load<u64>(p, P_RAM_SIZE) + PAGE_SIZE - 1) >> 12);
  return ((((pages + 31) >> 5) << 2) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

/** Is partition `p` logging its stores? */
@inline export function dirtyLogging(p: usize): bool {
  return atomic.load<u32>(p, P_DIRTY_ON) != 0;
}

/** Marks the page of guest-physical `gpa` of partition `p` dirty, if it is logging (any thread). */
@inline export function dirtyMark(p: usize, gpa: u64): void {
  if (!dirtyLogging(p)) return;
  const off = gpa - load<u64>(p, P_RAM_GPA);
  if (off >= load<u64>(p, P_RAM_SIZE)) return;
  const page = <u32>(off >> 12);
  atomic.or<u32>(<usize>load<u32>(p, P_DIRTY_BITMAP) + ((page >> 5) << 2), <u32>1 << (page & 31));
}

/** Every vCPU of `p` drops its store TLB entries before it stores again; running ones are kicked. */
function requestSync(p: usize): void {
  atomic.add<u32>(p + P_DIRTY_GEN, 1);
  const first = load<u32>(p, P_FIRST_VCPU);
  const n = load<u32>(p, P_NVCPUS);
  for (let i: u32 = 0; i < n; i++) {
    const v = vcpuAddr(first + i);
    if (atomic.load<u32>(v + H_DIRTY_RUNNING)) {
      // End its chunk at the next instruction (exec.ts: the attention path
      // leaves on H_PREEMPT); its next run starts with dirtyBeforeRun.
      atomic.store<u32>(v + H_PREEMPT, 1);
      atomic.store<u32>(v + H_ATTENTION, 1);
    }
  }
}

/**
 * Arms the log of partition `id`: every page clean, every store from now on
 * logged (once dirtyLogSynced). Returns false when the frame pool cannot
 * hold the bitmaps.
 */
export function dirtyLogStart(id: u32): bool {
  const p = partitionAddr(id);
  let bitmap = load<u32>(p, P_DIRTY_BITMAP);
  const bytes = bitmapBytes(p);
  if (!bitmap) {
    bitmap = framesAllocContiguous((2 * bytes) >> 12, PAGE_SIZE);
    if (!bitmap) return false;
    store<u32>(p, bitmap, P_DIRTY_BITMAP);
  } else {
    memory.fill(bitmap, 0, 2 * bytes);
  }
  atomic.store<u32>(p + P_DIRTY_ON, 1);
  requestSync(p);
  return true;
}

/**
 * Fetch-and-clear: moves the pages dirtied since the last fetch (or the
 * arming) into the fetched bitmap (dirtyLogBitmap) and returns how many
 * there are. Their next stores are logged again once dirtyLogSynced.
 */
export function dirtyLogFetch(id: u32): u32 {
  const p = partitionAddr(id);
  const live = <usize>load<u32>(p, P_DIRTY_BITMAP);
  if (!live) return 0;
  const bytes = bitmapBytes(p);
  const fetched = live + bytes;
  let count: u32 = 0;
  for (let off: u32 = 0; off < bytes; off += 4) {
    const w = load<u32>(live + off) ? atomic.xchg<u32>(live + off, 0) : 0;
    store<u32>(fetched + off, w);
    count += <u32>popcnt(w);
  }
  requestSync(p);
  return count;
}

/** Host address of partition `id`'s fetched bitmap (valid after dirtyLogStart), 0 = none. */
export function dirtyLogBitmap(id: u32): usize {
  const p = partitionAddr(id);
  const live = load<u32>(p, P_DIRTY_BITMAP);
  return live ? <usize>live + bitmapBytes(p) : 0;
}

/** Has every vCPU of `id` dropped the store TLB entries the last arm or fetch asked it to? */
export function dirtyLogSynced(id: u32): bool {
  const p = partitionAddr(id);
  const gen = atomic.load<u32>(p + P_DIRTY_GEN);
  const first = load<u32>(p, P_FIRST_VCPU);
  const n = load<u32>(p, P_NVCPUS);
  for (let i: u32 = 0; i < n; i++) {
    const v = vcpuAddr(first + i);
    if (atomic.load<u32>(v + H_DIRTY_RUNNING) && atomic.load<u32>(v + H_DIRTY_SEEN) != gen) return false;
  }
  return true;
}

/** Stops logging (the bitmaps stay, for the next arm, until dirtyLogRelease). */
export function dirtyLogStop(id: u32): void {
  atomic.store<u32>(partitionAddr(id) + P_DIRTY_ON, 0);
}

/** Returns the bitmaps to the pool. Only once no vCPU of `id` can run (they may be marking). */
export function dirtyLogRelease(id: u32): void {
  const p = partitionAddr(id);
  const bitmap = load<u32>(p, P_DIRTY_BITMAP);
  atomic.store<u32>(p + P_DIRTY_ON, 0);
  if (!bitmap) return;
  store<u32>(p, 0, P_DIRTY_BITMAP);
  framesFreeRun(bitmap, (2 * bitmapBytes(p)) >> 12);
}

/** Before the running vCPU runs: say so, and honour the last arm/fetch of its partition's log. */
export function dirtyBeforeRun(): void {
  atomic.store<u32>(hart + H_DIRTY_RUNNING, 1);
  const gen = atomic.load<u32>(<usize>load<u32>(hart, H_PARTITION) + P_DIRTY_GEN);
  if (gen != load<u32>(hart, H_DIRTY_SEEN)) {
    tlbDropStores();
    atomic.store<u32>(hart + H_DIRTY_SEEN, gen);
  }
}

/** After the running vCPU ran. */
export function dirtyAfterRun(): void {
  atomic.store<u32>(hart + H_DIRTY_RUNNING, 0);
}
