// CHS geometry as the VHD specification (appendix "CHS calculation")
// derives it from a sector count, and the sector count a geometry describes.
// Virtual PC sizes disks by CHS; the footer's current size is the exact size.

export interface Chs {
  cylinders: number;
  heads: number;
  sectorsPerTrack: number;
}

/** 65535 cylinders x 16 heads x 255 sectors: the largest geometry a footer can hold. */
export const MAX_CHS_SECTORS = 65535 * 16 * 255;

/** The spec's geometry for `totalSectors` (capped at the maximum geometry). */
export function chsForSectors(totalSectors: number): Chs {
  const total = Math.min(Math.max(0, Math.floor(totalSectors)), MAX_CHS_SECTORS);
  let sectorsPerTrack: number;
  let heads: number;
  let cylTimesHeads: number;
  if (total >= 65535 * 16 * 63) {
    sectorsPerTrack = 255;
    heads = 16;
    cylTimesHeads = Math.floor(total / sectorsPerTrack);
  } else {
    sectorsPerTrack = 17;
    cylTimesHeads = Math.floor(total / sectorsPerTrack);
    heads = Math.max(4, Math.floor((cylTimesHeads + 1023) / 1024));
    if (cylTimesHeads >= heads * 1024 || heads > 16) {
      sectorsPerTrack = 31;
      heads = 16;
      cylTimesHeads = Math.floor(total / sectorsPerTrack);
    }
    if (cylTimesHeads >= heads * 1024) {
      sectorsPerTrack = 63;
      heads = 16;
      cylTimesHeads = Math.floor(total / sectorsPerTrack);
    }
  }
  return { cylinders: Math.floor(cylTimesHeads / heads), heads, sectorsPerTrack };
}

export function chsSectors(g: Chs): number {
  return g.cylinders * g.heads * g.sectorsPerTrack;
}

/** True when the geometry is the maximum one (readers then trust current size). */
export function isMaxGeometry(g: Chs): boolean {
  return chsSectors(g) === MAX_CHS_SECTORS;
}
