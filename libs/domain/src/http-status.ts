import type { ErrorCode } from './error-codes';

/**
 * The one table from error codes to HTTP statuses, for every HTTP door (/v1, E2B's API and envd
 * routes); exhaustive by type, so a new code cannot be left unmapped. No client mistake is a 5xx.
 */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'VALIDATION_FAILED':
    case 'MALFORMED_JSON':
    case 'JSON_TOO_DEEP':
    case 'NOT_A_DIRECTORY':
    case 'NOT_A_FILE':
    case 'SYMLINK_LOOP':
      return 400;
    // No key, or one that is not (or no longer) valid; the answer carries WWW-Authenticate.
    case 'UNAUTHENTICATED':
      return 401;
    // FORBIDDEN: a valid key that may not do this (a tenant key on an admin route).
    case 'REGISTRY_NOT_ALLOWED':
    case 'FORBIDDEN':
    case 'IMAGE_NOT_ALLOWED':
    case 'ADMISSION_REFUSED':
    case 'WEBHOOK_URL_NOT_ALLOWED':
      return 403;
    case 'ROUTE_NOT_FOUND':
    case 'FILE_NOT_FOUND':
    case 'SANDBOX_NOT_FOUND':
    case 'API_KEY_NOT_FOUND':
    case 'WEBHOOK_NOT_FOUND':
      return 404;
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
      return 409;
    case 'PAYLOAD_TOO_LARGE':
    case 'FILE_TOO_LARGE':
      return 413;
    case 'UNSUPPORTED_ENCODING':
      return 415;
    // Well-formed, but not what this server can do with it.
    case 'IMAGE_UNAVAILABLE':
    case 'DISK_LIMIT_UNSUPPORTED':
    case 'NETWORK_UNSUPPORTED':
    case 'EXCEEDS_HOST_CAPACITY':
    case 'NO_MATCHING_NODE':
    case 'EXEC_FAILED':
      return 422;
    // AUTH_RATE_LIMITED: too many failed authentications from this address (with Retry-After).
    case 'INSUFFICIENT_CAPACITY':
    case 'TENANT_QUOTA_EXCEEDED':
    case 'AUTH_RATE_LIMITED':
      return 429;
    case 'CONTAINER_FAILED':
      return 502;
    case 'PORTS_EXHAUSTED':
    case 'RUNTIME_UNAVAILABLE':
    case 'STORE_UNAVAILABLE':
    case 'EXEC_OUTPUT_BUDGET_EXHAUSTED':
    case 'NODE_UNAVAILABLE': // CLUSTER=swarm: the node that holds the sandbox does not answer
      return 503;
    // The engine took the call but did not answer within its bound (DOCKER_*_TIMEOUT_SECONDS).
    case 'ENGINE_TIMEOUT':
      return 504;
    // The server holds a key that does not open this sandbox's env: an operator's problem.
    case 'SECRETS_UNREADABLE':
    case 'RECORD_CORRUPT':
    case 'INTERNAL_ERROR':
      return 500;
    default: {
      const unreachable: never = code;
      return unreachable;
    }
  }
}
