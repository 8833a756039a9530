// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { isCodedError } from '@app/domain';
import { EXEC_MARKER_ENV, execCreateOptions, validateExecRequest } from './exec-request';
import type { ExecRequest } from './exec-types';

const valid: ExecRequest = { argv: ['true'], timeoutMs: 1000, outputLimitBytes: 1024 };

function fieldOf(request: Partial<ExecRequest>): string {
  try {
    validateExecRequest({ ...valid, ...request });
  } catch (error) {
    expect(isCodedError(error, 'VALIDATION_FAILED')).toBe(true);
    return Object.keys((error as { details: { fields: object } }).details.fields)[0];
  }
  throw new Error('accepted');
}

describe('validateExecRequest', () => {
  it('accepts a complete request', () => {
    const request: ExecRequest = {
      argv: ['sh', '-c', 'echo "$X"'],
      env: { X: 'a=b c', EMPTY: '' },
      cwd: '/tmp',
      user: 'nobody:nogroup',
      stdin: Buffer.from('x'),
      timeoutMs: 1,
      outputLimitBytes: 0,
    };
    expect(validateExecRequest(request)).toBe(request);
    expect(() => validateExecRequest({ ...valid, user: '65534' })).not.toThrow();
  });

  it('names the offending field', () => {
    expect(fieldOf({ argv: [] })).toBe('argv');
    expect(fieldOf({ argv: [''] })).toBe('argv');
    expect(fieldOf({ argv: ['echo', 'a\0b'] })).toBe('argv');
    expect(fieldOf({ env: { 'A=B': 'x' } })).toBe('env');
    expect(fieldOf({ env: { A: 'x\0' } })).toBe('env');
    expect(fieldOf({ env: { [EXEC_MARKER_ENV]: 'forged' } })).toBe('env');
    expect(fieldOf({ cwd: 'tmp' })).toBe('cwd');
    expect(fieldOf({ user: 'root; rm' })).toBe('user');
    expect(fieldOf({ timeoutMs: 0 })).toBe('timeoutMs');
    expect(fieldOf({ timeoutMs: 1.5 })).toBe('timeoutMs');
    expect(fieldOf({ outputLimitBytes: -1 })).toBe('outputLimitBytes');
  });
});

describe('execCreateOptions', () => {
  it('attaches stdin only when given, never a TTY, marker last', () => {
    expect(execCreateOptions({ ...valid, env: { A: '1' } }, 'm1')).toEqual({
      Cmd: ['true'],
      Env: ['A=1', `${EXEC_MARKER_ENV}=m1`],
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    });
    expect(
      execCreateOptions({ ...valid, stdin: '', cwd: '/w', user: '1000:1000' }, 'm2'),
    ).toMatchObject({ AttachStdin: true, WorkingDir: '/w', User: '1000:1000' });
  });
});
