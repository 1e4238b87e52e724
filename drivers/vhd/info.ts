// What `hv vhd info` reports about an image, as plain data.
import * as fs from 'node:fs';
import { NodeFile } from '../block/file.ts';
import { UNALLOCATED } from './bat.ts';
import { formatUuid, timestampToDate } from './bytes.ts';
import { isVhd } from './chain.ts';
import { type Chs } from './geometry.ts';
import { platformName } from './header.ts';
import { readLayout } from './layout.ts';
import { parentCandidates, readLocator } from './locator.ts';

export interface ImageInfo {
  filename: string;
  format: 'vpc' | 'raw';
  virtualSize: number;
  /** Bytes the file occupies on the host (allocated blocks). */
  actualSize: number;
  fileLength: number;
  vhd?: {
    type: 'fixed' | 'dynamic' | 'differencing';
    creatorApp: string;
    creatorVersion: string;
    creatorOs: string;
    uniqueId: string;
    created: string;
    currentSize: number;
    originalSize: number;
    geometry: Chs;
    savedState: boolean;
    blockSize?: number;
    blocks?: number;
    allocatedBlocks?: number;
    parent?: {
      name: string;
      uniqueId: string;
      timestamp: string;
      locators: { platform: string; path: string | null }[];
      /** The first locator candidate (before checking that it matches). */
      candidate: string | null;
    };
  };
}

export function imageInfo(file: string): ImageInfo {
  const st = fs.statSync(file);
  const base = { filename: file, fileLength: st.size, actualSize: st.blocks * 512 };
  if (!isVhd(file)) return { ...base, format: 'raw', virtualSize: Math.floor(st.size / 512) * 512 };
  const raf = NodeFile.open(file, 'r');
  try {
    const layout = readLayout(raf, () => {});
    const f = layout.footer;
    const info: ImageInfo = {
      ...base,
      format: 'vpc',
      virtualSize: layout.size,
      vhd: {
        type: layout.type,
        creatorApp: f.creatorApp.replace(/\0/g, ''),
        creatorVersion: `${f.creatorVersion >>> 16}.${f.creatorVersion & 0xffff}`,
        creatorOs: f.creatorOs.replace(/\0/g, ''),
        uniqueId: formatUuid(f.uniqueId),
        created: timestampToDate(f.timestamp).toISOString(),
        currentSize: f.currentSize,
        originalSize: f.originalSize,
        geometry: f.geometry,
        savedState: f.savedState !== 0,
      },
    };
    const h = layout.header;
    if (h && layout.bat) {
      const v = info.vhd!;
      v.blockSize = h.blockSize;
      v.blocks = layout.bat.length;
      v.allocatedBlocks = layout.bat.reduce((n, e) => n + (e === UNALLOCATED ? 0 : 1), 0);
      if (layout.type === 'differencing') {
        let candidate: string | null = null;
        try {
          candidate = parentCandidates(file, raf, h)[0]?.path ?? null;
        } catch {
          candidate = null;
        }
        v.parent = {
          name: h.parentName,
          uniqueId: formatUuid(h.parentUniqueId),
          timestamp: timestampToDate(h.parentTimestamp).toISOString(),
          locators: h.locators
            .map((l, i) => ({ l, i }))
            .filter(({ l }) => l.platformCode !== 0)
            .map(({ l, i }) => {
              let text: string | null = null;
              try {
                text = readLocator(raf, l, i);
              } catch {
                text = null;
              }
              return { platform: platformName(l.platformCode), path: text };
            }),
          candidate,
        };
      }
    }
    return info;
  } finally {
    raf.close();
  }
}
