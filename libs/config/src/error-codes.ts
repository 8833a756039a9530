/**
 * Every error the service reports has one of these stable codes. Clients match on the code, never on
 * the message, so a code is never renamed once released. Only the HTTP edge maps codes to statuses.
 */
export const ERROR_CODES = [
  'VALIDATION_FAILED',
  'MALFORMED_JSON',
  'PAYLOAD_TOO_LARGE',
  'ROUTE_NOT_FOUND',
  'SANDBOX_NOT_FOUND',
  'INVALID_TRANSITION',
  'SANDBOX_NOT_RUNNING',
  'SANDBOX_PROTECTED',
  'SANDBOX_BUSY',
  'NAME_CONFLICT',
  'IDEMPOTENCY_CONFLICT',
  'CONCURRENT_MODIFICATION',
  'PORTS_EXHAUSTED',
  'IMAGE_UNAVAILABLE',
  'REGISTRY_NOT_ALLOWED',
  'CONTAINER_FAILED',
  'CONTAINER_MISSING',
  'RESTART_UNSUPPORTED',
  'DISK_LIMIT_UNSUPPORTED',
  'INSUFFICIENT_CAPACITY',
  'FILE_NOT_FOUND',
  'FILE_TOO_LARGE',
  'NOT_A_DIRECTORY',
  'NOT_A_FILE',
  'EXEC_FAILED',
  'RUNTIME_UNAVAILABLE',
  'STORE_UNAVAILABLE',
  'INTERNAL_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];
