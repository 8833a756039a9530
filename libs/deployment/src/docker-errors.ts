import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { CodedError, describeError } from '@app/domain';

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

/** The engine refused a container create or start because a network it names does not exist. */
export function isNetworkMissing(error: unknown): boolean {
  return isNotFound(error) && /network .*not found/i.test(engineMessage(error));
}

/**
 * The engine found two networks of the container's network name at start ("network x is
 * ambiguous (2 matches found on name)"): replicas made the sandbox network at the same moment,
 * and the one that lost is about to remove its twin (SandboxNetwork.settleTwins).
 */
export function isNetworkAmbiguous(error: unknown): boolean {
  return /network .* is ambiguous/i.test(engineMessage(error));
}

export function runtimeUnavailable(error: unknown): CodedError {
  return new CodedError(
    'RUNTIME_UNAVAILABLE',
    `the Docker engine is not reachable: ${describeError(error)}`,
    undefined,
    { cause: error },
  );
}

const logger = new Logger('DockerEngine');

/**
 * Engine wordings that are safe and useful to show, each replaced by our own fixed words. The
 * engine's text itself never reaches a user-visible field: it can carry the body of whatever a
 * registry (or any address dockerd was made to contact) answered, and container output.
 */
const KNOWN_REASONS: readonly [RegExp, string][] = [
  [
    /executable file not found|no such file or directory.*exec|exec: .*not found/i,
    'the command was not found in the image',
  ],
  [/permission denied/i, 'permission denied running the command'],
  [
    /unknown or invalid runtime|runtime .* not (found|registered)/i,
    'the runtime is not known to the engine',
  ],
  [/no space left on device/i, 'the engine ran out of disk space'],
  [
    /manifest unknown|manifest for .* not found|repository does not exist|not found: manifest/i,
    'the image was not found in its registry',
  ],
  [/unauthorized|authentication required|denied/i, 'the registry refused access to the image'],
  [/invalid reference format/i, 'the image reference is not valid'],
  [/timeout|timed out|deadline exceeded/i, 'the engine timed out'],
  [/no such image/i, 'the image does not exist'],
  [/no such container/i, 'the container does not exist'],
  [/network .*not found/i, 'the network of the container does not exist'],
];

/** Our words for an engine failure, from its text and HTTP status; never the text itself. */
export function engineReason(error: unknown): string {
  const text = engineMessage(error);
  for (const [pattern, words] of KNOWN_REASONS) if (pattern.test(text)) return words;
  const status = httpStatus(error);
  if (status === null) return 'the engine call failed';
  if (status === 404) return 'the engine found no such object';
  if (status === 409) return 'the engine reported a conflict';
  if (status >= 400 && status < 500) return `the engine refused the request (HTTP ${status})`;
  return `the engine failed (HTTP ${status})`;
}

/**
 * Logs the engine's full text under a fresh reference and returns our words plus the reference,
 * so an operator can find the detail while the caller sees nothing the engine echoed.
 */
export function loggedEngineReason(error: unknown, context: string): string {
  const ref = randomUUID();
  logger.warn(`${context} [engine detail ${ref}]: ${describeError(error)}`);
  return `${engineReason(error)} (engine detail logged as ${ref})`;
}

/**
 * Turns an unexpected engine error into a CodedError so that callers only ever see coded errors:
 * socket failures become RUNTIME_UNAVAILABLE, anything else `fallback` with our words for the
 * engine's answer (the answer itself is logged, see loggedEngineReason).
 */
export function toCodedError(
  error: unknown,
  fallback: 'CONTAINER_FAILED' | 'IMAGE_UNAVAILABLE' | 'RUNTIME_UNAVAILABLE',
  context: string,
  details?: Record<string, unknown>,
): CodedError {
  if (error instanceof CodedError) return error;
  if (isEngineUnreachable(error)) return runtimeUnavailable(error);
  return new CodedError(fallback, `${context}: ${loggedEngineReason(error, context)}`, details, {
    cause: error,
  });
}
