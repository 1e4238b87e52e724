// runtime/persist/partition.ts in the browser bundles. Save files are
// written with node:zlib and Buffer, which a page does not have; the
// playground cannot save or restore yet, and says so.
import { ControlError } from '../../host/controller.ts';

export type { SaveInfo } from '../../persist/partition.ts';

function unavailable(): never {
  throw new ControlError('save and restore are not available in the browser playground yet');
}

export const readSave = unavailable;
export const restorePartition = unavailable;
export const savePartition = unavailable;
