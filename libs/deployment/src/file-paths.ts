import { validationError } from '@app/domain';

/**
 * Paths inside a container as callers give them. They must be absolute and are normalised here
 * (`//` and `.` dropped, trailing `/` removed). `..` is refused rather than resolved: resolving it
 * here would be lexical, while inside the container `a/link/..` follows the symlink, so the two
 * could name different files. Whatever remains is resolved by the engine within the container's
 * root (symlinks included), never against the host.
 */

export const MAX_PATH_LENGTH = 4096;
const MAX_NAME_LENGTH = 255;

export interface PathRules {
  /** `/` itself is allowed (reading, listing, stat) or not (writing, deleting). */
  allowRoot: boolean;
}

export function normalizeContainerPath(raw: unknown, rules: PathRules, field = 'path'): string {
  if (typeof raw !== 'string' || raw.length === 0) {
    throw validationError(field, 'must be a non-empty string');
  }
  if (raw.includes('\0')) throw validationError(field, 'must not contain NUL bytes');
  if (raw.length > MAX_PATH_LENGTH) {
    throw validationError(field, `must be at most ${MAX_PATH_LENGTH} characters`);
  }
  if (!raw.startsWith('/')) throw validationError(field, 'must be an absolute path');
  const segments = raw.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) throw validationError(field, 'must not contain ".." segments');
  if (segments.some((segment) => Buffer.byteLength(segment) > MAX_NAME_LENGTH)) {
    throw validationError(field, `names must be at most ${MAX_NAME_LENGTH} bytes`);
  }
  const path = `/${segments.join('/')}`;
  if (path === '/' && !rules.allowRoot) throw validationError(field, 'must not be the root');
  return path;
}

/** Directory and last name of a normalised path other than `/`. */
export function splitPath(path: string): { parent: string; name: string } {
  const cut = path.lastIndexOf('/');
  return { parent: cut === 0 ? '/' : path.slice(0, cut), name: path.slice(cut + 1) };
}
