import { Code, ConnectError } from '@connectrpc/connect';
import { CodedError, ERROR_CODES, httpStatusOf } from '@app/domain';
import { E2bApiError, apiErrorOf, connectErrorOf, envdStatusOf, statusOfCode } from './e2b-errors';

describe('E2B error shapes', () => {
  it('should put the status in the body as `code`, the field the SDK reads', () => {
    const error = apiErrorOf(new CodedError('SANDBOX_NOT_FOUND', 'sandbox x not found'));
    expect(error.status).toBe(404);
    expect(error.body).toEqual({ code: 404, message: 'sandbox x not found' });
  });

  it('should answer no client mistake with a 5xx', () => {
    const clientMistakes = [
      'VALIDATION_FAILED',
      'MALFORMED_JSON',
      'SANDBOX_NOT_FOUND',
      'FILE_NOT_FOUND',
      'NOT_A_FILE',
      'NAME_CONFLICT',
      'FILE_TOO_LARGE',
      'IMAGE_UNAVAILABLE',
    ] as const;
    for (const code of clientMistakes) expect(statusOfCode(code)).toBeLessThan(500);
    for (const code of ERROR_CODES) expect(statusOfCode(code)).toBeGreaterThanOrEqual(400);
  });

  it('should take every status from the shared table, with 400 for what the SDK would not type', () => {
    for (const code of ERROR_CODES) {
      const shared = httpStatusOf(code);
      expect(statusOfCode(code)).toBe(shared === 415 || shared === 422 ? 400 : shared);
    }
    expect(statusOfCode('RUNTIME_UNAVAILABLE')).toBe(503);
  });

  it('should answer a gone sandbox on the data plane as E2B does: unavailable, 502', () => {
    const gone = new CodedError('SANDBOX_NOT_RUNNING', 'it is stopped');
    expect(connectErrorOf(gone).code).toBe(Code.Unavailable);
    expect(envdStatusOf(gone).status).toBe(502);
    expect(connectErrorOf(new CodedError('VALIDATION_FAILED', 'bad')).code).toBe(
      Code.InvalidArgument,
    );
    expect(connectErrorOf(new E2bApiError(404, 'no')).code).toBe(Code.NotFound);
    const own = new ConnectError('kept', Code.AlreadyExists);
    expect(connectErrorOf(own)).toBe(own);
  });

  it('should hide nothing unexpected behind a 4xx', () => {
    expect(apiErrorOf(new Error('boom')).status).toBe(500);
    expect(connectErrorOf(new Error('boom')).code).toBe(Code.Internal);
  });
});
