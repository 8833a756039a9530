import type { ErrorBody } from './types';

/** Codes the SDK itself raises, for failures that never got an answer from the service. */
export type ClientErrorCode =
  | 'NETWORK_ERROR'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'INVALID_RESPONSE'
  | 'UNEXPECTED_STATE'
  | 'WAIT_TIMEOUT'
  | 'NOT_A_FILE'
  | 'NOT_A_DIRECTORY';

/**
 * Every failure of the SDK: an error answer from the service (its stable `code`, HTTP `status`,
 * `details` and, on 5xx, the `errorId` that is also in the server log), or a client-side failure
 * with one of the ClientErrorCode codes and status 0.
 */
export class SandboxdError extends Error {
  override readonly name = 'SandboxdError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly errorId?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static client(code: ClientErrorCode, message: string, cause?: unknown): SandboxdError {
    return new SandboxdError(0, code, message, undefined, undefined, { cause });
  }
}

/**
 * Builds the error for a non-2xx answer. A body in the service's error shape is taken as is;
 * anything else (a proxy's HTML page, an empty 502) still yields a code derived from the status, so
 * callers can always switch on `code`.
 */
export function errorFromResponse(status: number, statusText: string, text: string): SandboxdError {
  const body = parseErrorBody(text);
  if (body) return new SandboxdError(status, body.code, body.message, body.details, body.errorId);
  const snippet = text.trim().slice(0, 200);
  return new SandboxdError(
    status,
    `HTTP_${status}`,
    snippet ? `${status} ${statusText}: ${snippet}` : `${status} ${statusText}`.trim(),
  );
}

function parseErrorBody(text: string): ErrorBody | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const candidate = parsed as Partial<ErrorBody>;
  if (typeof candidate.code !== 'string' || typeof candidate.message !== 'string') return null;
  return {
    statusCode: typeof candidate.statusCode === 'number' ? candidate.statusCode : 0,
    code: candidate.code,
    message: candidate.message,
    details: isRecord(candidate.details) ? candidate.details : undefined,
    errorId: typeof candidate.errorId === 'string' ? candidate.errorId : undefined,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
