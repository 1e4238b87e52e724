// The one error type the VHD driver raises for malformed or inconsistent
// images. It extends BlockError so device models that already catch
// BlockError handle VHD failures too; `code` lets callers (and tests) tell
// the failure kinds apart without parsing messages.
import { BlockError } from '../block/device.ts';

export type VhdErrorCode =
  | 'not-vhd' // no "conectix" footer where one must be
  | 'truncated' // the file ends before a structure it declares
  | 'bad-checksum' // footer or dynamic header checksum mismatch
  | 'bad-footer' // footer fields out of range or inconsistent
  | 'bad-header' // dynamic header fields out of range or inconsistent
  | 'unsupported' // valid but not something we implement (version, type)
  | 'bat-range' // a BAT entry points outside the data area of the file
  | 'bat-overlap' // two BAT entries, or an entry and metadata, overlap
  | 'locator' // a parent locator is malformed
  | 'parent-missing' // no parent locator resolves to an existing file
  | 'parent-id' // the parent found has another unique id
  | 'parent-timestamp' // the parent's timestamp differs from the child's record
  | 'parent-loop' // the parent chain comes back to a disk already in it
  | 'disk-full' // the file cannot grow further (BAT offsets are 32-bit sectors)
  | 'io'; // the underlying file failed (short read)

export class VhdError extends BlockError {
  readonly code: VhdErrorCode;
  constructor(code: VhdErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VhdError';
    this.code = code;
  }
}
