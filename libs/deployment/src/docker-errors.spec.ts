// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { CodedError } from '@app/domain';
import { engineMessage, isEngineUnreachable, isPortConflict, toCodedError } from './docker-errors';

function httpError(statusCode: number, message: string): Error {
  return Object.assign(new Error(`(HTTP code ${statusCode}) server error - ${message} `), {
    statusCode,
    json: { message },
  });
}

function socketError(code: string): Error {
  return Object.assign(new Error(`connect ${code} /var/run/docker.sock`), { code });
}

describe('docker errors', () => {
  it('recognises an unreachable engine only from socket errors', () => {
    expect(isEngineUnreachable(socketError('ECONNREFUSED'))).toBe(true);
    expect(isEngineUnreachable(socketError('ENOENT'))).toBe(true);
    expect(isEngineUnreachable(httpError(500, 'boom'))).toBe(false);
    expect(isEngineUnreachable('text')).toBe(false);
  });

  it('recognises host port conflicts in both engine wordings', () => {
    expect(
      isPortConflict(
        httpError(
          500,
          'driver failed ...: Bind for 127.0.0.1:30001 failed: port is already allocated',
        ),
      ),
    ).toBe(true);
    expect(
      isPortConflict(
        httpError(
          500,
          'Error starting userland proxy: listen tcp4 127.0.0.1:30001: bind: address already in use',
        ),
      ),
    ).toBe(true);
    expect(isPortConflict(httpError(500, 'no space left on device'))).toBe(false);
  });

  it('prefers the engine message over the modem prefix', () => {
    expect(engineMessage(httpError(404, 'No such image: x'))).toBe('No such image: x');
    expect(engineMessage(new Error('(HTTP code 500) server error - oops '))).toBe('oops');
  });

  it('maps errors to coded errors, keeping coded ones', () => {
    const coded = new CodedError('PORTS_EXHAUSTED', 'full');
    expect(toCodedError(coded, 'CONTAINER_FAILED', 'x')).toBe(coded);
    expect(toCodedError(socketError('ECONNREFUSED'), 'CONTAINER_FAILED', 'x').code).toBe(
      'RUNTIME_UNAVAILABLE',
    );
    const mapped = toCodedError(httpError(500, 'boom'), 'CONTAINER_FAILED', 'could not start');
    expect(mapped.code).toBe('CONTAINER_FAILED');
    expect(mapped.message).toMatch(
      /^could not start: the engine failed \(HTTP 500\) \(engine detail logged as [0-9a-f-]{36}\)$/,
    );
  });

  it('never copies the engine text into the message, only known words for it', () => {
    const reflected = httpError(500, 'Get "http://127.0.0.1:1/v2/": body TOP-SECRET-42');
    expect(toCodedError(reflected, 'CONTAINER_FAILED', 'x').message).not.toContain('TOP-SECRET');
    const missing = httpError(400, 'exec: "nope": executable file not found in $PATH');
    expect(toCodedError(missing, 'CONTAINER_FAILED', 'x').message).toMatch(
      /^x: the command was not found in the image/,
    );
  });
});
