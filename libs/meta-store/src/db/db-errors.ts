import { CodedError, describeError, isCodedError } from '@app/domain';
import { QueryFailedError } from 'typeorm';

/** PostgreSQL SQLSTATEs / SQLite codes for "this value is already taken". */
const UNIQUE_VIOLATION_CODES = new Set([
  '23505',
  'SQLITE_CONSTRAINT_UNIQUE',
  'SQLITE_CONSTRAINT_PRIMARYKEY',
]);

/** Socket-level failures reaching the database (node's errno codes, as pg reports them). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
]);

/**
 * PostgreSQL: class 08 (connection exception), shutdown/starting up, too many connections.
 * SQLite: the file is locked past the busy timeout, unreadable, or the disk is full/read-only.
 */
const UNAVAILABLE_CODE =
  /^(08|57P0[1-3]$|53300$|SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|READONLY))/;

/** Messages of pg-pool and TypeORM failures that carry no code. */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|connection error|Cannot execute operation on ".*" connection|not connected|The database connection is not open/i;

/** Codes found on the error, TypeORM's wrapped `driverError`, and the `cause` chain. */
function codesOf(error: unknown): { codes: string[]; messages: string[] } {
  const codes: string[] = [];
  const messages: string[] = [];
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const current = queue.shift();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    const record = current as {
      code?: unknown;
      message?: unknown;
      driverError?: unknown;
      cause?: unknown;
    };
    if (typeof record.code === 'string') codes.push(record.code);
    if (typeof record.message === 'string') messages.push(record.message);
    queue.push(record.driverError, record.cause);
  }
  return { codes, messages };
}

/** A unique or primary-key constraint rejected the write, on either driver. */
export function isUniqueViolation(error: unknown): boolean {
  return codesOf(error).codes.some((code) => UNIQUE_VIOLATION_CODES.has(code));
}

/** The database could not be reached or used (as opposed to rejecting this statement). */
export function isDatabaseUnavailable(error: unknown): boolean {
  const { codes, messages } = codesOf(error);
  return (
    codes.some((code) => NETWORK_CODES.has(code) || UNAVAILABLE_CODE.test(code)) ||
    messages.some((message) => UNAVAILABLE_MESSAGE.test(message))
  );
}

/**
 * What the store lets escape: domain errors unchanged; connectivity failures as STORE_UNAVAILABLE;
 * a failed statement as INTERNAL_ERROR carrying only the driver's code and message. TypeORM's
 * QueryFailedError is never passed on, because its `parameters` hold the row being written
 * (including the spec's environment values) and would end up in logs.
 */
export function toStoreError(error: unknown): unknown {
  if (isCodedError(error)) return error;
  if (isDatabaseUnavailable(error)) {
    return new CodedError(
      'STORE_UNAVAILABLE',
      `The database is unavailable: ${describeError(driverErrorOf(error))}`,
      { store: 'database' },
    );
  }
  if (error instanceof QueryFailedError) {
    const driverError = driverErrorOf(error);
    const { codes } = codesOf(driverError);
    return new CodedError(
      'INTERNAL_ERROR',
      `Database query failed: ${describeError(driverError)}`,
      { store: 'database', driverCode: codes[0] ?? null },
    );
  }
  return error;
}

function driverErrorOf(error: unknown): unknown {
  return error instanceof QueryFailedError ? error.driverError : error;
}
