import { PassThrough } from 'node:stream';
import { CommanderError } from 'commander';
import { SandboxdError } from '@app/sdk';
import { ExitWith, UsageError, reportError } from './errors';

describe('reportError', () => {
  const report = (error: unknown) => {
    const stderr = new PassThrough();
    const status = reportError(error, stderr);
    return { status, printed: String(stderr.read() ?? '') };
  };

  it('should print service errors as "error: <code>: <message>" with status 1', () => {
    expect(report(new SandboxdError(409, 'SANDBOX_NOT_RUNNING', 'it is stopped'))).toEqual({
      status: 1,
      printed: 'error: SANDBOX_NOT_RUNNING: it is stopped\n',
    });
  });

  it('should give usage errors status 2, and leave commander its own message', () => {
    expect(report(new UsageError('bad'))).toEqual({ status: 2, printed: 'error: bad\n' });
    expect(report(new CommanderError(1, 'commander.unknownOption', 'x'))).toEqual({
      status: 2,
      printed: '',
    });
    expect(report(new CommanderError(0, 'commander.helpDisplayed', '')).status).toBe(0);
  });

  it("should pass a command's exit status through silently", () => {
    expect(report(new ExitWith(3))).toEqual({ status: 3, printed: '' });
  });
});
