import { SANDBOX_INFO_FIELDS } from '../sandbox-info';

/**
 * How an object parsed from the store compares with SandboxInfo:
 *  - `exact`: its own keys are exactly the SandboxInfo fields. Then it is a SandboxInfo as it
 *    stands, and picking it (a copy field by field) would only rebuild the same object. This is
 *    what the store writes (the database's info column and the cache's alive entries both hold the
 *    picked, complete info), so reads, which parse one such object per sandbox, skip the copy;
 *  - `more`: every field, and other keys too (to be picked);
 *  - `incomplete`: a field is missing (written by a version that predates it).
 */
export type InfoShape = 'exact' | 'more' | 'incomplete';

export function infoShape(value: object): InfoShape {
  for (const field of SANDBOX_INFO_FIELDS) {
    if (!Object.prototype.hasOwnProperty.call(value, field)) return 'incomplete';
  }
  return Object.keys(value).length === SANDBOX_INFO_FIELDS.length ? 'exact' : 'more';
}
