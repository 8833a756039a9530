import { validationError } from '@app/domain';

/** Sandbox ids are short url-safe strings; anything else cannot have come from encodeCursor. */
const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Opaque to clients (base64url of the last id returned) so the paging key can change later. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

/** The id to continue after; VALIDATION_FAILED (field `cursor`) for anything not from encodeCursor. */
export function decodeCursor(cursor: string): string {
  // Node's decoder silently skips invalid characters, so round-tripping is the real check.
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!ID_PATTERN.test(id) || encodeCursor(id) !== cursor) {
    throw validationError('cursor', 'malformed, or not issued by this API');
  }
  return id;
}
