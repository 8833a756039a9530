import { isCodedError } from '@app/domain';

/**
 * The headers an auth refusal carries, on every edge: a 401 says how to authenticate
 * (`WWW-Authenticate: Bearer`, RFC 9110 §11.6.1), a 429 when to try again (`Retry-After`).
 */
export function challengeHeadersOf(error: unknown): Record<string, string> {
  if (isCodedError(error, 'UNAUTHENTICATED')) {
    return { 'WWW-Authenticate': 'Bearer realm="sandboxd"' };
  }
  if (isCodedError(error, 'AUTH_RATE_LIMITED')) {
    const seconds = error.details?.retryAfterSeconds;
    if (typeof seconds === 'number') return { 'Retry-After': String(seconds) };
  }
  return {};
}
