// The VHD driver's public surface.
export { VhdError, type VhdErrorCode } from './errors.ts';
export type { VhdDisk, Extent } from './disk.ts';
export { DynamicVhd } from './dynamic.ts';
export { FixedVhd } from './fixed.ts';
export { createVhd, createDifferencingVhd, type CreateOptions, type ParentInfo } from './create.ts';
export { openVhdFile, type OpenFileOptions } from './open.ts';
export { openVhd, openImage, isVhd, createVhdFile, createDifferencingFile, type OpenOptions } from './chain.ts';
export { checkVhd, checkVhdFile, type CheckReport, type RepairMode } from './check.ts';
export { commitChild } from './commit.ts';
export { copyDisk } from './convert.ts';
export { compactVhdFile } from './compact.ts';
export { imageInfo, type ImageInfo } from './info.ts';
export { CREATOR_APP, MAX_DISK_SIZE } from './footer.ts';
export { DEFAULT_BLOCK_SIZE } from './header.ts';
