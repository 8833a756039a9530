import { CodedError, ErrorCode } from '@app/domain';
import {
  ROCK_CODES,
  RockCode,
  RockEnvelope,
  RockFailureResult,
  rockFailure,
} from './rock-envelope';

/** A refusal of the ROCK layer itself (a bad field, an unsupported feature), with its ROCK code. */
export class RockError extends Error {
  constructor(
    readonly code: RockCode,
    message: string,
    /** Fields the failure's result carries besides code and failure_reason. */
    readonly extra: Record<string, unknown> = {},
    readonly exitCode: number | null = null,
  ) {
    super(message);
    this.name = 'RockError';
  }
}

export function badRequest(message: string, extra?: Record<string, unknown>): RockError {
  return new RockError(ROCK_CODES.badRequest, message, extra);
}

/**
 * The ROCK code of each domain error: 4000 for what the client can fix (bad input, wrong state,
 * unknown id, over a limit), 5000 for the service's or the engine's trouble, 6000 for a command
 * that could not run. Exhaustive by type, like httpStatusOf (@app/domain).
 */
export function rockCodeOf(code: ErrorCode): RockCode {
  switch (code) {
    case 'VALIDATION_FAILED':
    case 'MALFORMED_JSON':
    case 'JSON_TOO_DEEP':
    case 'PAYLOAD_TOO_LARGE':
    case 'UNSUPPORTED_ENCODING':
    case 'ROUTE_NOT_FOUND':
    case 'UNAUTHENTICATED':
    case 'AUTH_RATE_LIMITED':
    case 'API_KEY_NOT_FOUND':
    case 'SANDBOX_NOT_FOUND':
    case 'INVALID_TRANSITION':
    case 'SANDBOX_NOT_RUNNING':
    case 'SANDBOX_PROTECTED':
    case 'NAME_CONFLICT':
    case 'IDEMPOTENCY_CONFLICT':
    case 'IMAGE_UNAVAILABLE':
    case 'REGISTRY_NOT_ALLOWED':
    case 'FORBIDDEN':
    case 'TENANT_QUOTA_EXCEEDED':
    case 'IMAGE_NOT_ALLOWED':
    case 'ADMISSION_REFUSED':
    case 'WEBHOOK_NOT_FOUND':
    case 'WEBHOOK_URL_NOT_ALLOWED':
    case 'RESTART_UNSUPPORTED':
    case 'DISK_LIMIT_UNSUPPORTED':
    case 'NETWORK_UNSUPPORTED':
    case 'EXCEEDS_HOST_CAPACITY':
    case 'NO_MATCHING_NODE':
    case 'FILE_NOT_FOUND':
    case 'FILE_TOO_LARGE':
    case 'NOT_A_DIRECTORY':
    case 'NOT_A_FILE':
    case 'SYMLINK_LOOP':
    case 'PATH_PROTECTED':
      return ROCK_CODES.badRequest;
    case 'EXEC_FAILED':
      return ROCK_CODES.command;
    case 'SANDBOX_BUSY':
    case 'CONCURRENT_MODIFICATION':
    case 'PORTS_EXHAUSTED':
    case 'CONTAINER_FAILED':
    case 'CONTAINER_MISSING':
    case 'INSUFFICIENT_CAPACITY':
    case 'EXEC_OUTPUT_BUDGET_EXHAUSTED':
    case 'RUNTIME_UNAVAILABLE':
    case 'NODE_UNAVAILABLE':
    case 'ENGINE_TIMEOUT':
    case 'STORE_UNAVAILABLE':
    case 'SECRETS_UNREADABLE':
    case 'RECORD_CORRUPT':
    case 'INTERNAL_ERROR':
      return ROCK_CODES.internal;
    default: {
      const unreachable: never = code;
      return unreachable;
    }
  }
}

/**
 * Anything a ROCK route threw, as its Failed envelope. Only coded errors and the layer's own
 * refusals show their text; anything else is an unexpected fault and says only "internal error"
 * (the caller logs it).
 */
export function rockFailureOf(route: string, error: unknown): RockEnvelope<RockFailureResult> {
  const message = `${route} failed`;
  if (error instanceof RockError) {
    return rockFailure(message, error.message, error.code, error.extra, error.exitCode);
  }
  if (error instanceof CodedError) {
    return rockFailure(message, `${error.code}: ${error.message}`, rockCodeOf(error.code));
  }
  return rockFailure(message, 'internal error', ROCK_CODES.internal);
}

/** Whether a failure is the service's fault (to be logged), not the client's. */
export function isUnexpected(error: unknown): boolean {
  return !(error instanceof RockError) && !(error instanceof CodedError);
}
