import type { IncomingHttpHeaders } from 'node:http';
import { MAX_PRESENTED_KEY_LENGTH } from './api-key-format';

/** What a request presents: no key, one key, or something that cannot be one (and why). */
export type PresentedKey =
  { kind: 'none' } | { kind: 'key'; key: string } | { kind: 'malformed'; problem: string };

const BEARER = /^bearer +(\S+)$/i;
/** Keys are visible ASCII: anything else (binary, Latin-1, a space inside) is not a key. */
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/**
 * The key a request presents, as `Authorization: Bearer <key>` or `X-API-Key: <key>`. Node
 * lower-cases header names, so `X-API-KEY` (the E2B SDK's spelling) and any other casing arrive
 * as one; the scheme word `Bearer` is case-insensitive too (RFC 9110). Both headers may be sent
 * (Swagger UI does when both are authorized) only with the same key. Nothing here throws, and
 * nothing long is worked on: an overlong value is refused by its length alone.
 *
 * `fallbackHeader` is a protocol's own key header (ROCK's `X-Key`, which ROCK's server reads as
 * the caller's authorization and ROCK users already set in `extra_headers`): read only when
 * neither of ours is sent, so a client that sends ours beside a ROCK value of its own still works.
 */
export function presentedKeyOf(
  headers: IncomingHttpHeaders,
  fallbackHeader?: string,
): PresentedKey {
  const found: string[] = [];
  const authorization = single(headers.authorization);
  if (authorization === null) return malformed('Authorization is sent more than once');
  if (authorization !== undefined) {
    if (authorization.length > MAX_PRESENTED_KEY_LENGTH + 16) return malformed('too long');
    const bearer = BEARER.exec(authorization.trim());
    if (bearer === null) return malformed('Authorization must be "Bearer <key>"');
    found.push(bearer[1]);
  }
  const apiKey = single(headers['x-api-key']);
  if (apiKey === null) return malformed('X-API-Key is sent more than once');
  if (apiKey !== undefined) found.push(apiKey.trim());
  if (found.length === 0 && fallbackHeader !== undefined) {
    const fallback = single(headers[fallbackHeader.toLowerCase()]);
    if (fallback === null) return malformed(`${fallbackHeader} is sent more than once`);
    if (fallback !== undefined) found.push(fallback.trim());
  }
  if (found.length === 0) return { kind: 'none' };
  const [key] = found;
  if (found.some((other) => other !== key)) {
    return malformed('Authorization and X-API-Key carry different keys');
  }
  if (key.length > MAX_PRESENTED_KEY_LENGTH) return malformed('too long');
  if (!VISIBLE_ASCII.test(key)) return malformed('a key is visible ASCII characters only');
  return { kind: 'key', key };
}

/** The header's one value; undefined when absent, null when repeated. */
function single(value: string | string[] | undefined): string | undefined | null {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : null;
  return value;
}

function malformed(problem: string): PresentedKey {
  return { kind: 'malformed', problem };
}
