// A VHD taking another's identity: its footer's unique id and timestamp
// become those of `donor`. Children find and check their parent by path,
// unique id and timestamp (chain.ts), so a disk that has absorbed its child
// (commit.ts) and takes the child's identity and file name stands in for
// the child under every disk made from it: how deleting a snapshot merges
// a snapshot's differencing disk without rewriting its descendants.
import { NodeFile } from '../block/file.ts';
import { encodeFooter, type Footer } from './footer.ts';
import { readLayout, strictSink } from './layout.ts';

/** Reads the footer of the VHD at `path`. */
export function readFooter(path: string): Footer {
  const raf = NodeFile.open(path, 'r');
  try {
    return readLayout(raf, strictSink).footer;
  } finally {
    raf.close();
  }
}

/** Gives the dynamic or differencing VHD at `path` the unique id and timestamp of `donor` (both footer copies). */
export function adoptIdentity(path: string, donor: Footer): void {
  const raf = NodeFile.open(path, 'r+');
  try {
    const layout = readLayout(raf, strictSink);
    const bytes = encodeFooter({ ...layout.footer, uniqueId: donor.uniqueId.slice(), timestamp: donor.timestamp });
    if (layout.type !== 'fixed') raf.write(bytes, 0);
    raf.write(bytes, layout.trailingFooterAt);
    raf.sync();
  } finally {
    raf.close();
  }
}
