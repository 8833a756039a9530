import { endOf } from './envd-process';

describe('endOf (envd end event)', () => {
  it('should report a normal exit as exited with its status', () => {
    expect(endOf(0, false)).toEqual({
      exitCode: 0,
      exited: true,
      status: 'exit status 0',
      error: undefined,
    });
    expect(endOf(3, false)).toMatchObject({ exitCode: 3, exited: true });
  });

  it('should say why a process was cut short', () => {
    expect(endOf(137, true)).toMatchObject({
      exitCode: 137,
      exited: false,
      status: 'signal: killed',
      error: 'the process was killed at its timeout',
    });
    expect(endOf(0, false, true).error).toMatch(/EXEC_OUTPUT_LIMIT/);
  });

  it('should give -1 for an exit code nobody could read', () => {
    expect(endOf(null, false)).toMatchObject({ exitCode: -1, exited: false, status: 'unknown' });
  });
});
