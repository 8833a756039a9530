/**
 * ROCK's answer shape (`RockResponse` of its SDK): every route answers HTTP 200 with this
 * envelope, success or not. The SDK tests `status === "Success"` (case-sensitive) and, on the
 * lifecycle routes, turns `result.code` into an exception class, so `code` is one of the four
 * codes below or absent: pydantic refuses any other number.
 */
export const ROCK_CODES = { ok: 2000, badRequest: 4000, internal: 5000, command: 6000 } as const;
export type RockCode = (typeof ROCK_CODES)[keyof typeof ROCK_CODES];

export interface RockEnvelope<T = unknown> {
  status: 'Success' | 'Failed';
  message: string;
  error: string | null;
  result: T | null;
}

/** The failure result ROCK's SDK reads (`SandboxResponse`), plus whatever a route adds. */
export interface RockFailureResult {
  code: RockCode;
  exit_code: number | null;
  failure_reason: string;
  [extra: string]: unknown;
}

export function rockSuccess<T>(result: T, message = 'success'): RockEnvelope<T> {
  return { status: 'Success', message, error: null, result };
}

/**
 * A failure: `message` says which route failed (as ROCK's handlers do), `error` and
 * `result.failure_reason` say why. `extra` fields ride along in the result (read_file's empty
 * `content`, which the SDK reads whatever the status).
 */
export function rockFailure(
  message: string,
  reason: string,
  code: RockCode,
  extra: Record<string, unknown> = {},
  exitCode: number | null = null,
): RockEnvelope<RockFailureResult> {
  return {
    status: 'Failed',
    message,
    error: reason,
    result: { ...extra, code, exit_code: exitCode, failure_reason: reason },
  };
}
