import { Code, ConnectError } from '@connectrpc/connect';
import { CodedError, ErrorCode, describeError, httpStatusOf, isCodedError } from '@app/domain';

/**
 * A control-plane failure as E2B's API answers it: the HTTP status and the JSON body
 * `{code, message}`, whose `code` repeats the status (the SDK reads `body.code === 404`, not the
 * status, to tell "not found" from a failure).
 */
export class E2bApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Sent with the answer: WWW-Authenticate on a 401, Retry-After on a 429 of the auth limit. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'E2bApiError';
  }

  get body(): { code: number; message: string } {
    return { code: this.status, message: this.message };
  }
}

/**
 * The HTTP status of a domain error on E2B's routes: the shared table (httpStatusOf), except that
 * 415 and 422 answer 400, the one client-mistake status the SDK types (InvalidArgumentError).
 */
export function statusOfCode(code: ErrorCode): number {
  const status = httpStatusOf(code);
  return status === 415 || status === 422 ? 400 : status;
}

export function apiErrorOf(error: unknown): E2bApiError {
  if (error instanceof E2bApiError) return error;
  if (isCodedError(error)) {
    return new E2bApiError(statusOfCode(error.code), error.message, headersOf(error));
  }
  return new E2bApiError(500, `internal error: ${describeError(error)}`);
}

/** How to authenticate after a 401, when to retry after the auth limit's 429; as /v1 says it. */
function headersOf(error: CodedError): Record<string, string> {
  if (error.code === 'UNAUTHENTICATED') return { 'www-authenticate': 'Bearer realm="sandboxd"' };
  const retryAfter = error.details?.retryAfterSeconds;
  if (error.code === 'AUTH_RATE_LIMITED' && typeof retryAfter === 'number') {
    return { 'retry-after': String(retryAfter) };
  }
  return {};
}

/**
 * A data-plane failure as a Connect error the SDK turns into its own typed error. A sandbox that
 * is gone or not running answers `unavailable`, as envd behind E2B's proxy does (the SDK reports
 * it as the sandbox's timeout).
 */
export function connectErrorOf(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof E2bApiError)
    return new ConnectError(error.message, codeOfStatus(error.status));
  if (!isCodedError(error)) return new ConnectError(describeError(error), Code.Internal);
  if (GONE.includes(error.code)) return new ConnectError(error.message, Code.Unavailable);
  return new ConnectError(error.message, codeOfStatus(statusOfCode(error.code)));
}

/** Codes that mean the sandbox is not there to serve envd (as a dead sandbox behind E2B's proxy). */
const GONE: readonly ErrorCode[] = [
  'SANDBOX_NOT_FOUND',
  'SANDBOX_NOT_RUNNING',
  'CONTAINER_MISSING',
];

function codeOfStatus(status: number): Code {
  if (status === 404) return Code.NotFound;
  if (status === 409) return Code.FailedPrecondition;
  if (status === 413 || status === 429) return Code.ResourceExhausted;
  if (status === 503) return Code.Unavailable;
  if (status === 504) return Code.DeadlineExceeded;
  if (status >= 500) return Code.Internal;
  return Code.InvalidArgument;
}

/** The REST status of a data-plane failure (GET/POST /files): a gone sandbox is 502. */
export function envdStatusOf(error: unknown): { status: number; message: string } {
  if (isCodedError(error)) {
    if (GONE.includes(error.code)) return { status: 502, message: error.message };
    return { status: statusOfCode(error.code), message: error.message };
  }
  if (error instanceof E2bApiError) return { status: error.status, message: error.message };
  return { status: 500, message: `internal error: ${describeError(error)}` };
}

export const badRequest = (message: string): E2bApiError => new E2bApiError(400, message);
export const notFound = (message: string): E2bApiError => new E2bApiError(404, message);
