// The states a page of an overcommit partition's RAM can be in (the
// kernel's G-stage leaf states, docs/memory.md), with the colour every
// picture gives them and what each means, for the legend's tooltips.
import type { PartitionMemoryMap } from '../../machine/overcommit.ts';

export type PageState = 'private' | 'pinned' | 'shared' | 'zero' | 'unpopulated' | 'ballooned' | 'swapped';

export const PAGE_STATES: readonly { state: PageState; color: string; meaning: string }[] = [
  { state: 'private', color: '#8a93a5', meaning: 'a frame of its own' },
  { state: 'pinned', color: '#ebcb8b', meaning: 'a frame of its own, pinned for a VMBus GPADL: never shared, ballooned or swapped' },
  { state: 'shared', color: '#a3be8c', meaning: 'a frame other pages with the same bytes share, copied on its next write' },
  { state: 'zero', color: '#88c0d0', meaning: 'the one zero frame, found by the sharing scan' },
  { state: 'unpopulated', color: '#4c566a', meaning: 'demand-allocated RAM never written: no frame, reads as zeros' },
  { state: 'ballooned', color: '#d08770', meaning: 'given to the host by the guest\u2019s balloon: no frame' },
  { state: 'swapped', color: '#b48ead', meaning: 'in the partition\u2019s swap file: no frame until touched' },
];

/**
 * A partition's pages by state. The kernel counts pinned pages among the
 * private ones (a pinned page has a frame of its own); here each page is in
 * one state, so private is the unpinned rest.
 */
export function pagesByState(m: PartitionMemoryMap): Record<PageState, number> {
  return {
    private: m.private - m.pinned, pinned: m.pinned, shared: m.shared, zero: m.zero,
    unpopulated: m.unpopulated, ballooned: m.ballooned, swapped: m.swapped,
  };
}
