// virtio-balloon (virtio spec 1.2 section 5.5), device id 5: the host sets
// a target (num_pages) and the guest's driver gives that many pages back,
// as Linux's drivers/virtio/virtio_balloon.c does. Queues, in the order the
// driver finds them (absent ones take no index):
//
//   0 inflateq    le32 PFNs (4 KiB units) the guest no longer uses: each
//                 page leaves the partition's RAM (BalloonHost.inflate),
//                 its frame goes back to the host's pool
//   1 deflateq    le32 PFNs the guest takes back: nothing to do here, a
//                 ballooned page reads as zeros and gets a frame when written
//                 (VIRTIO_BALLOON_F_MUST_TELL_HOST is not offered)
//   2 statsq      (VIRTIO_BALLOON_F_STATS_VQ) the driver's statistics, an
//                 array of { le16 tag; le64 val } (packed, 10 bytes): the
//                 device keeps the buffer and returns it to ask for fresh
//                 figures (requestStats), as QEMU does
//   3 reporting_vq (VIRTIO_BALLOON_F_PAGE_REPORTING) free page reporting:
//                 writable ranges of free guest memory, given back as
//                 inflated pages, the buffer returned with nothing written
//
// Configuration space: num_pages le32 @0 (the target, the device's),
// actual le32 @4 (the driver's), free_page_hint_cmd_id @8, poison_val @12.
import type { GuestMemory } from '../dma.ts';
import { DeviceStateError, type IrqLine, uintField } from '../device.ts';
import { bit, HOLD, type Metrics, type VirtioBackend } from './device.ts';
import { VirtioMmio, type VirtioMmioOptions } from './mmio.ts';
import type { DescriptorChain } from './virtqueue.ts';

export const VIRTIO_ID_BALLOON = 5;

// Feature bits (5.5.3).
export const VIRTIO_BALLOON_F_MUST_TELL_HOST = 0n;
export const VIRTIO_BALLOON_F_STATS_VQ = 1n;
export const VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 2n;
export const VIRTIO_BALLOON_F_PAGE_REPORTING = 5n;

export const BALLOON_PFN_SHIFT = 12;
const BALLOON_PAGE = 1 << BALLOON_PFN_SHIFT;
const CONFIG_SIZE = 16;
const QUEUE_SIZE = 128;
const STAT_SIZE = 10;

export const Q_INFLATE = 0;
export const Q_DEFLATE = 1;
export const Q_STATS = 2;
export const Q_REPORTING = 3;

/** Statistics tags (5.5.6.3), by the names Linux's /proc/meminfo-like fields take. */
export const BALLOON_STAT_NAMES: Readonly<Record<number, string>> = {
  0: 'swapIn', 1: 'swapOut', 2: 'majorFaults', 3: 'minorFaults', 4: 'freeMemory', 5: 'totalMemory', 6: 'availableMemory',
  7: 'diskCaches', 8: 'hugetlbAllocations', 9: 'hugetlbFailures', 10: 'oomKills', 11: 'allocStalls', 12: 'asyncScans',
  13: 'directScans', 14: 'asyncReclaims', 15: 'directReclaims',
};

/** What the balloon needs from the partition's memory (runtime/machine/overcommit.ts). */
export interface BalloonHost {
  /** Takes guest-physical page `gpa` out of RAM; false if it is not RAM or already out. */
  inflate(gpa: number): boolean;
  /** After a buffer of inflations: the frames go back to the pool (after a grace period). */
  reclaim(): void;
}

export interface VirtioBalloonMetrics extends Metrics {
  /** Pages the guest gave (inflate queue). */
  inflated: number;
  /** Pages the guest took back (deflate queue). */
  deflated: number;
  /** Pages of free memory the guest reported (reporting queue). */
  reported: number;
  /** PFNs that were not RAM or already out (ignored, as QEMU does). */
  refused: number;
  statsUpdates: number;
}

export class VirtioBalloon implements VirtioBackend {
  readonly deviceId = VIRTIO_ID_BALLOON;
  readonly name = 'balloon';
  readonly stateVersion = 1;
  readonly queueMaxSizes = [QUEUE_SIZE, QUEUE_SIZE, QUEUE_SIZE, QUEUE_SIZE];
  readonly features =
    bit(VIRTIO_BALLOON_F_STATS_VQ) | bit(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) | bit(VIRTIO_BALLOON_F_PAGE_REPORTING);

  private readonly cfg = new Uint8Array(CONFIG_SIZE);
  private readonly dv = new DataView(this.cfg.buffer);
  private complete: ((queue: number, head: number, len: number) => void) | undefined;
  /** The statistics buffer the driver gave, kept until the host wants fresh figures. */
  private statsHead: number | undefined;
  private lastStats: Record<string, number> = {};
  private readonly stats: VirtioBalloonMetrics = { inflated: 0, deflated: 0, reported: 0, refused: 0, statsUpdates: 0 };
  /** Told when the driver's `actual` or statistics change (the host's controller). */
  onChange: () => void = () => {};

  /** Queue indices of the optional queues, as the negotiated features number them (-1: absent). */
  private statsQueue = -1;
  private reportingQueue = -1;

  constructor(private readonly host: BalloonHost) {}

  /** The host's target: the balloon should hold this many 4 KiB pages. The caller signals the config change. */
  setTarget(pages: number): void {
    if (!Number.isInteger(pages) || pages < 0 || pages > 0xffff_ffff) throw new RangeError(`balloon target ${pages} pages is out of range`);
    this.dv.setUint32(0, pages, true);
  }

  get target(): number {
    return this.dv.getUint32(0, true);
  }

  /** Pages the driver says the balloon holds. */
  get actual(): number {
    return this.dv.getUint32(4, true);
  }

  /** The guest's last statistics, by name (bytes for the memory figures). */
  get guestStats(): Readonly<Record<string, number>> {
    return this.lastStats;
  }

  /** Asks the driver for fresh statistics (returns its buffer); false if it has not given one. */
  requestStats(): boolean {
    if (this.statsHead === undefined || !this.complete) return false;
    const head = this.statsHead;
    this.statsHead = undefined;
    this.complete(this.statsQueue, head, 0);
    return true;
  }

  attach(complete: (queue: number, head: number, len: number) => void): void {
    this.complete = complete;
  }

  config(): Uint8Array {
    return this.cfg;
  }

  writeConfig(offset: number, size: number, value: number): void {
    // The driver writes `actual` (and nothing else the device reads).
    if (offset !== 4 || size !== 4) return;
    this.dv.setUint32(4, value >>> 0, true);
    this.onChange();
  }

  activate(features: bigint): void {
    // Absent queues take no index (Linux's virtio_find_vqs skips them).
    const stats = (features & bit(VIRTIO_BALLOON_F_STATS_VQ)) !== 0n;
    this.statsQueue = stats ? Q_STATS : -1;
    this.reportingQueue = features & bit(VIRTIO_BALLOON_F_PAGE_REPORTING) ? (stats ? Q_REPORTING : Q_STATS) : -1;
  }

  reset(): void {
    this.statsHead = undefined;
    this.statsQueue = this.reportingQueue = -1;
    this.dv.setUint32(4, 0, true); // the driver starts over with an empty balloon
  }

  handle(queue: number, chain: DescriptorChain): number {
    if (queue === Q_INFLATE || queue === Q_DEFLATE) {
      const pfns = chain.read(0, chain.readableLength - (chain.readableLength % 4));
      const dv = new DataView(pfns.buffer);
      for (let i = 0; i < pfns.length; i += 4) {
        const gpa = dv.getUint32(i, true) * BALLOON_PAGE;
        if (queue === Q_DEFLATE) this.stats.deflated++;
        else if (this.host.inflate(gpa)) this.stats.inflated++;
        else this.stats.refused++;
      }
      if (queue === Q_INFLATE) this.host.reclaim();
      return 0;
    }
    if (queue === this.statsQueue) {
      const bytes = chain.read(0, chain.readableLength - (chain.readableLength % STAT_SIZE));
      const dv = new DataView(bytes.buffer);
      const next: Record<string, number> = {};
      for (let i = 0; i < bytes.length; i += STAT_SIZE) {
        const name = BALLOON_STAT_NAMES[dv.getUint16(i, true)];
        if (name) next[name] = Number(dv.getBigUint64(i + 2, true));
      }
      this.lastStats = next;
      this.stats.statsUpdates++;
      this.statsHead = chain.head; // kept: returning it is how the device asks again
      this.onChange();
      return HOLD;
    }
    if (queue === this.reportingQueue) {
      for (const s of chain.writable) {
        for (let gpa = Math.ceil(s.addr / BALLOON_PAGE) * BALLOON_PAGE; gpa + BALLOON_PAGE <= s.addr + s.len; gpa += BALLOON_PAGE) {
          if (this.host.inflate(gpa)) this.stats.reported++;
        }
      }
      this.host.reclaim();
      return 0;
    }
    return 0;
  }

  metrics(): VirtioBalloonMetrics {
    return { ...this.stats };
  }

  save(): object {
    return { target: this.target, actual: this.actual, statsHead: this.statsHead ?? -1, statsQueue: this.statsQueue, reportingQueue: this.reportingQueue };
  }

  restore(state: object): void {
    const target = uintField(state, 'target', 'virtio-balloon');
    const actual = uintField(state, 'actual', 'virtio-balloon');
    const head = (state as { statsHead?: unknown }).statsHead;
    if (typeof head !== 'number' || !Number.isInteger(head) || head < -1 || head >= QUEUE_SIZE) {
      throw new DeviceStateError("virtio-balloon: snapshot field 'statsHead' is not -1 or a descriptor index");
    }
    this.dv.setUint32(0, target, true);
    this.dv.setUint32(4, actual, true);
    this.statsHead = head < 0 ? undefined : head;
    const queue = (key: string): number => {
      const q = (state as Record<string, unknown>)[key];
      if (q !== -1 && q !== Q_STATS && q !== Q_REPORTING) throw new DeviceStateError(`virtio-balloon: snapshot field '${key}' is not a queue index`);
      return q;
    };
    this.statsQueue = queue('statsQueue');
    this.reportingQueue = queue('reportingQueue');
  }
}

/** A virtio-mmio virtio-balloon for one of createVirtBoard's `virtio` slots; `made` receives both halves. */
export function virtioBalloonFactory(
  mem: GuestMemory,
  host: BalloonHost,
  made: (balloon: VirtioBalloon, transport: VirtioMmio) => void,
  options: Omit<VirtioMmioOptions, 'irq'> = {},
): (irq: IrqLine) => VirtioMmio {
  return (irq) => {
    const balloon = new VirtioBalloon(host);
    const transport = new VirtioMmio(balloon, mem, { ...options, irq });
    made(balloon, transport);
    return transport;
  };
}
