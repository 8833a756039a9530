import { NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { CodedError, ERROR_CODES } from '@app/domain';
import { ROCK_CODES } from './rock-envelope';
import { RockError, rockCodeOf, rockFailureOf } from './rock-errors';
import { isRockPath, rockEnvelopeForError } from './rock-paths';

describe('ROCK error mapping', () => {
  it('should give every domain code one of the four codes ROCK SDK accepts', () => {
    const allowed = new Set<number>(Object.values(ROCK_CODES));
    for (const code of ERROR_CODES) expect(allowed.has(rockCodeOf(code))).toBe(true);
    expect(rockCodeOf('SANDBOX_NOT_FOUND')).toBe(4000);
    expect(rockCodeOf('VALIDATION_FAILED')).toBe(4000);
    expect(rockCodeOf('STORE_UNAVAILABLE')).toBe(5000);
    expect(rockCodeOf('EXEC_FAILED')).toBe(6000);
  });

  it('should answer a Failed envelope with string message and error, and the code in result', () => {
    const failure = rockFailureOf('stop sandbox', new CodedError('INVALID_TRANSITION', 'nope'));
    expect(failure).toEqual({
      status: 'Failed',
      message: 'stop sandbox failed',
      error: 'INVALID_TRANSITION: nope',
      result: { code: 4000, exit_code: null, failure_reason: 'INVALID_TRANSITION: nope' },
    });
    const own = rockFailureOf('read file', new RockError(4000, 'missing', { content: '' }));
    expect(own.result).toMatchObject({ content: '', code: 4000, failure_reason: 'missing' });
  });

  it('should hide the text of unexpected errors', () => {
    const failure = rockFailureOf('execute command', new Error('secret stack detail'));
    expect(failure.error).toBe('internal error');
    expect(failure.result?.code).toBe(5000);
  });

  it('should answer what escaped a handler under the prefix as a 4000, and unknown routes as unsupported', () => {
    expect(isRockPath('/apis/envs/sandbox/v1/stop')).toBe(true);
    expect(isRockPath('/apis/envs/sandbox/v10')).toBe(false);
    expect(isRockPath('/v1/sandboxes')).toBe(false);
    const missing = rockEnvelopeForError(
      '/apis/envs/sandbox/v1/archive_all',
      new NotFoundException(),
    );
    expect(missing).toMatchObject({ status: 'Failed', result: { code: 4000 } });
    expect(missing.error).toMatch(/archive_all is not supported/);
    const large = rockEnvelopeForError(
      '/apis/envs/sandbox/v1/upload',
      new PayloadTooLargeException(),
    );
    expect(large.error).toMatch(/larger/);
    const json = rockEnvelopeForError(
      '/apis/envs/sandbox/v1/stop',
      new CodedError('MALFORMED_JSON', 'bad'),
    );
    expect(json.result).toMatchObject({ code: 4000 });
    const fault = rockEnvelopeForError('/apis/envs/sandbox/v1/stop', new Error('boom'), 'e-1');
    expect(fault).toMatchObject({ error: 'internal error (errorId e-1)', result: { code: 5000 } });
  });
});
