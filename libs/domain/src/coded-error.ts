import type { ErrorCode } from './error-codes';

/**
 * The one error type the domain libraries throw. `details` carries machine-readable context (the
 * offending field, the current state, …) that the HTTP edge passes through unchanged.
 */
export class CodedError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CodedError';
  }
}

export function isCodedError(error: unknown, code?: ErrorCode): error is CodedError {
  return error instanceof CodedError && (code === undefined || error.code === code);
}

/** A message for logs and failure reasons from anything that was thrown. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error);
}

/** A VALIDATION_FAILED error in the API's shape: `details.fields` maps each field to its problems. */
export function validationError(field: string, problem: string): CodedError {
  return new CodedError('VALIDATION_FAILED', `${field}: ${problem}`, {
    fields: { [field]: [problem] },
  });
}
