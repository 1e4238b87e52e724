// Consistency check and safe repair (`hv vhd check [-r]`). The check reads
// the metadata with every problem collected instead of thrown, then follows
// a differencing disk's parent chain. Repairs are limited to what cannot lose
// data: restoring one footer copy from the other, and trimming unused space
// at the end of the file (moving the footer first, so a crash mid-repair
// still leaves a valid image).
import { NodeFile, type RandomAccessFile } from '../block/file.ts';
import { alignUp, SECTOR } from './bytes.ts';
import { findParent, openVhd } from './chain.ts';
import { VhdError } from './errors.ts';
import { encodeFooter, type DiskType } from './footer.ts';
import { readLayout, type Issue, type Layout, type Repair } from './layout.ts';

export type RepairMode = 'none' | 'leaks' | 'all';

export interface CheckReport {
  type: DiskType | null;
  errors: Issue[];
  leaks: Issue[];
  warnings: Issue[];
  leakedBytes: number;
  /** What -r changed, in order. */
  repaired: string[];
  /** Set when the image could not be read far enough to check the rest. */
  fatal: VhdError | null;
}

export interface CheckOptions {
  /** Path of the image (needed to resolve a differencing disk's parent). */
  path?: string;
  repair?: RepairMode;
}

function inspect(file: RandomAccessFile, opts: CheckOptions): { report: CheckReport; layout: Layout | null } {
  const report: CheckReport = { type: null, errors: [], leaks: [], warnings: [], leakedBytes: 0, repaired: [], fatal: null };
  const sink = (i: Issue): void => {
    if (i.severity === 'error') report.errors.push(i);
    else if (i.severity === 'leak') {
      report.leaks.push(i);
      report.leakedBytes += i.bytes ?? 0;
    } else report.warnings.push(i);
  };
  let layout: Layout;
  try {
    layout = readLayout(file, sink);
  } catch (e) {
    if (!(e instanceof VhdError)) throw e;
    report.fatal = e;
    report.errors.push({ severity: 'error', code: e.code, message: e.message });
    return { report, layout: null };
  }
  report.type = layout.type;
  if (layout.bat) {
    const used = Math.ceil(layout.size / layout.blockSize);
    let beyond = 0;
    for (let i = used; i < layout.bat.length; i++) if (layout.bat[i] !== 0xffff_ffff) beyond++;
    if (beyond) sink({ severity: 'warning', code: 'layout', message: `${beyond} blocks allocated past the end of the disk` });
  }
  if (layout.footer.savedState) sink({ severity: 'warning', code: 'layout', message: 'the disk is marked as in a saved state' });
  if (layout.type === 'differencing' && opts.path && report.errors.length === 0) {
    try {
      const parentPath = findParent(opts.path, file, layout, {});
      openVhd(parentPath, { readOnly: true }).close();
    } catch (e) {
      if (!(e instanceof VhdError)) throw e;
      sink({ severity: 'error', code: e.code, message: e.message });
    }
  }
  return { report, layout };
}

const REPAIR_TEXT: Record<Repair, string> = {
  'write-footer-copy': 'restored the footer copy at offset 0 from the trailing footer',
  'write-trailing-footer': 'restored the trailing footer from the copy at offset 0',
  'trim-tail': 'moved the footer back over unused space at the end of the file and truncated it',
};

function applyRepair(file: RandomAccessFile, layout: Layout, repair: Repair): void {
  const footer = encodeFooter({ ...layout.footer });
  const size = file.size();
  switch (repair) {
    case 'write-footer-copy':
      file.write(footer, 0);
      file.sync();
      return;
    case 'write-trailing-footer':
      // Appended, never over anything: the old tail becomes leaked space, trimmed next.
      file.write(footer, alignUp(size, SECTOR));
      file.sync();
      return;
    case 'trim-tail': {
      const end = alignUp(layout.dataEnd, SECTOR);
      if (end + footer.length >= size) return;
      file.write(footer, end);
      file.sync();
      file.truncate(end + footer.length);
      file.sync();
      return;
    }
  }
}

/** Checks (and with `repair`, fixes) the image in `file`. */
export function checkVhd(file: RandomAccessFile, opts: CheckOptions = {}): CheckReport {
  const mode = opts.repair ?? 'none';
  const repaired: string[] = [];
  let { report, layout } = inspect(file, opts);
  for (let pass = 0; mode !== 'none' && layout && pass < 4; pass++) {
    const fixes = [...report.errors, ...report.leaks]
      .map((i) => i.repair)
      .filter((r): r is Repair => r !== undefined && (mode === 'all' || r === 'trim-tail'));
    const todo = [...new Set(fixes)];
    if (todo.length === 0) break;
    // Footers first: a tail trim needs a valid trailing footer to move.
    const next = todo.find((r) => r !== 'trim-tail') ?? todo[0]!;
    applyRepair(file, layout, next);
    repaired.push(REPAIR_TEXT[next]);
    ({ report, layout } = inspect(file, opts));
  }
  report.repaired = repaired;
  return report;
}

export function checkVhdFile(path: string, opts: Omit<CheckOptions, 'path'> = {}): CheckReport {
  const repair = opts.repair ?? 'none';
  const file = NodeFile.open(path, repair === 'none' ? 'r' : 'r+');
  try {
    return checkVhd(file, { path, repair });
  } finally {
    file.close();
  }
}
