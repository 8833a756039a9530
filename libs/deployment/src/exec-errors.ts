import { CodedError } from '@app/domain';
import {
  engineMessage,
  httpStatus,
  isEngineUnreachable,
  runtimeUnavailable,
} from './docker-errors';

/**
 * Errors of exec and of the container side of file operations. Where no existing code fits
 * exactly, the closest one is used and `details.reason` names the code this should become
 * (EXEC_FAILED); switching is a one-line change here.
 */

/** The engine refused or lost an exec: container gone (404) or not running (409). */
export function execEngineError(error: unknown, containerId: string, context: string): CodedError {
  if (error instanceof CodedError) return error;
  if (isEngineUnreachable(error)) return runtimeUnavailable(error);
  const status = httpStatus(error);
  const message = `${context}: ${engineMessage(error)}`;
  if (status === 404) {
    return new CodedError('CONTAINER_MISSING', message, { containerId }, { cause: error });
  }
  if (status === 409) {
    return new CodedError('SANDBOX_NOT_RUNNING', message, { containerId }, { cause: error });
  }
  return new CodedError('CONTAINER_FAILED', message, { containerId }, { cause: error });
}

/**
 * The process never started: no such program, a working directory or user that does not exist.
 * A caller's mistake (422), not a fault of the service.
 */
export function execFailed(containerId: string, engineText: string): CodedError {
  const text = engineText.trim().slice(0, 1000);
  return new CodedError('EXEC_FAILED', `the command could not be started: ${text}`, {
    fields: { command: [text] },
    containerId,
  });
}
