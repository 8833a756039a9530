import 'reflect-metadata';
import { CodedError, isCodedError } from '@app/domain';
import { QueryFailedError } from 'typeorm';
import { isDatabaseUnavailable, isUniqueViolation, toStoreError } from './db-errors';

function driverError(fields: Record<string, unknown>): Error {
  const message = typeof fields.message === 'string' ? fields.message : 'driver error';
  return Object.assign(new Error(message), fields);
}

function queryFailed(fields: Record<string, unknown>): QueryFailedError {
  return new QueryFailedError('INSERT …', [], driverError(fields));
}

describe('db-errors', () => {
  it('recognises unique violations of both drivers', () => {
    expect(isUniqueViolation(queryFailed({ code: '23505' }))).toBe(true);
    expect(isUniqueViolation(queryFailed({ code: 'SQLITE_CONSTRAINT_UNIQUE' }))).toBe(true);
    expect(isUniqueViolation(queryFailed({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }))).toBe(true);
    expect(isUniqueViolation(queryFailed({ code: '23503' }))).toBe(false);
    expect(isUniqueViolation(queryFailed({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' }))).toBe(false);
  });

  it.each([
    ['ECONNREFUSED', driverError({ code: 'ECONNREFUSED' })],
    ['pg admin shutdown', queryFailed({ code: '57P01' })],
    ['pg connection exception class', queryFailed({ code: '08006' })],
    ['pool timeout', new Error('timeout exceeded when trying to connect')],
    ['SQLite busy', queryFailed({ code: 'SQLITE_BUSY' })],
    ['SQLite I/O error', queryFailed({ code: 'SQLITE_IOERR_WRITE' })],
    ['nested cause', new Error('wrapper', { cause: driverError({ code: 'ECONNRESET' }) })],
  ])('maps %s to STORE_UNAVAILABLE', (_label, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
    const mapped = toStoreError(error);
    expect(isCodedError(mapped, 'STORE_UNAVAILABLE')).toBe(true);
  });

  it('turns a failed statement into INTERNAL_ERROR without the query parameters', () => {
    const failed = new QueryFailedError(
      'INSERT INTO sandbox_table …',
      ['secret-env-value'],
      driverError({ code: '42601', message: 'syntax error' }),
    );
    const mapped = toStoreError(failed);
    expect(isCodedError(mapped, 'INTERNAL_ERROR')).toBe(true);
    expect(mapped).toMatchObject({ details: { driverCode: '42601' } });
    expect(mapped).not.toHaveProperty('cause');
    expect(JSON.stringify(mapped)).not.toContain('secret-env-value');
    expect((mapped as CodedError).message).not.toContain('secret-env-value');
  });

  it('leaves domain errors and unrelated errors unchanged', () => {
    const domain = new CodedError('NAME_CONFLICT', 'taken');
    expect(toStoreError(domain)).toBe(domain);
    const bug = new TypeError('x is undefined');
    expect(toStoreError(bug)).toBe(bug);
  });
});
