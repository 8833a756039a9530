import { CodedError, describeError } from '@app/config';

/**
 * Classifies errors from dockerode/docker-modem. The modem rejects with a plain Error carrying
 * `statusCode` for HTTP answers, or with a Node system error (`code`) when the socket itself fails;
 * the service must tell these apart because only the latter means the engine is down.
 */

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'EACCES',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

function field(error: unknown, key: string): unknown {
  return typeof error === 'object' && error !== null
    ? (error as Record<string, unknown>)[key]
    : undefined;
}

export function httpStatus(error: unknown): number | null {
  const status = field(error, 'statusCode');
  return typeof status === 'number' ? status : null;
}

export function isNotFound(error: unknown): boolean {
  return httpStatus(error) === 404;
}

export function isNotModified(error: unknown): boolean {
  return httpStatus(error) === 304;
}

export function isConflict(error: unknown): boolean {
  return httpStatus(error) === 409;
}

/** The socket could not be reached at all (daemon stopped, socket missing or not permitted). */
export function isEngineUnreachable(error: unknown): boolean {
  const code = field(error, 'code');
  return httpStatus(error) === null && typeof code === 'string' && UNREACHABLE_CODES.has(code);
}

/** The engine's own message, without the modem's "(HTTP code 500) server error -" prefix. */
export function engineMessage(error: unknown): string {
  const json = field(error, 'json');
  const fromJson = field(json, 'message');
  if (typeof fromJson === 'string' && fromJson.length > 0) return fromJson.trim();
  return describeError(error)
    .replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, '')
    .trim();
}

/**
 * A host port the allocator chose was grabbed by something outside Docker's view (another
 * process, or another daemon's container) between the scan and the start.
 */
export function isPortConflict(error: unknown): boolean {
  const message = engineMessage(error);
  return /port is already allocated|address already in use/i.test(message);
}

export function runtimeUnavailable(error: unknown): CodedError {
  return new CodedError(
    'RUNTIME_UNAVAILABLE',
    `the Docker engine is not reachable: ${describeError(error)}`,
    undefined,
    { cause: error },
  );
}

/**
 * Turns an unexpected engine error into a CodedError so that callers only ever see coded errors:
 * socket failures become RUNTIME_UNAVAILABLE, anything else `fallback` with the engine's message.
 */
export function toCodedError(
  error: unknown,
  fallback: 'CONTAINER_FAILED' | 'IMAGE_UNAVAILABLE' | 'RUNTIME_UNAVAILABLE',
  context: string,
  details?: Record<string, unknown>,
): CodedError {
  if (error instanceof CodedError) return error;
  if (isEngineUnreachable(error)) return runtimeUnavailable(error);
  return new CodedError(fallback, `${context}: ${engineMessage(error)}`, details, { cause: error });
}
