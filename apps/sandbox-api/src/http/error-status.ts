import { HttpStatus } from '@nestjs/common';
import type { ErrorCode } from '@app/domain';

/** The one place that maps domain error codes to HTTP statuses. Exhaustive by type. */
export function statusOf(code: ErrorCode): HttpStatus {
  switch (code) {
    case 'VALIDATION_FAILED':
    case 'MALFORMED_JSON':
    case 'JSON_TOO_DEEP':
    case 'NOT_A_DIRECTORY':
    case 'NOT_A_FILE':
    case 'SYMLINK_LOOP':
      return HttpStatus.BAD_REQUEST;
    case 'PAYLOAD_TOO_LARGE':
    case 'FILE_TOO_LARGE':
      return HttpStatus.PAYLOAD_TOO_LARGE;
    case 'UNSUPPORTED_ENCODING':
      return HttpStatus.UNSUPPORTED_MEDIA_TYPE;
    case 'ROUTE_NOT_FOUND':
    case 'FILE_NOT_FOUND':
    case 'SANDBOX_NOT_FOUND':
      return HttpStatus.NOT_FOUND;
    case 'INVALID_TRANSITION':
    case 'SANDBOX_NOT_RUNNING':
    case 'SANDBOX_PROTECTED':
    case 'CONTAINER_MISSING':
    case 'RESTART_UNSUPPORTED':
    case 'SANDBOX_BUSY':
    case 'NAME_CONFLICT':
    case 'IDEMPOTENCY_CONFLICT':
    case 'CONCURRENT_MODIFICATION':
    case 'PATH_PROTECTED':
      return HttpStatus.CONFLICT;
    case 'INSUFFICIENT_CAPACITY':
    case 'TENANT_QUOTA_EXCEEDED':
      return HttpStatus.TOO_MANY_REQUESTS;
    case 'REGISTRY_NOT_ALLOWED':
    case 'FORBIDDEN':
      return HttpStatus.FORBIDDEN;
    case 'IMAGE_UNAVAILABLE':
    case 'DISK_LIMIT_UNSUPPORTED':
    case 'EXCEEDS_HOST_CAPACITY':
    case 'EXEC_FAILED':
      return HttpStatus.UNPROCESSABLE_ENTITY;
    case 'CONTAINER_FAILED':
      return HttpStatus.BAD_GATEWAY;
    case 'PORTS_EXHAUSTED':
    case 'RUNTIME_UNAVAILABLE':
    case 'STORE_UNAVAILABLE':
    case 'EXEC_OUTPUT_BUDGET_EXHAUSTED':
      return HttpStatus.SERVICE_UNAVAILABLE;
    // The engine took the call but did not answer within its bound (DOCKER_*_TIMEOUT_SECONDS).
    case 'ENGINE_TIMEOUT':
      return HttpStatus.GATEWAY_TIMEOUT;
    // The server holds a key that does not open this sandbox's env: an operator's problem.
    case 'SECRETS_UNREADABLE':
    case 'RECORD_CORRUPT':
    case 'INTERNAL_ERROR':
      return HttpStatus.INTERNAL_SERVER_ERROR;
    default: {
      const unreachable: never = code;
      return unreachable;
    }
  }
}
