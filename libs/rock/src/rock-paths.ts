import { HttpException, HttpStatus } from '@nestjs/common';
import { CodedError } from '@app/domain';
import { ROCK_CODES, RockEnvelope, rockFailure } from './rock-envelope';
import { rockFailureOf } from './rock-errors';

/** Where ROCK's SDK sends every call: `{base_url}/apis/envs/sandbox/v1/<route>`. */
export const ROCK_PREFIX = 'apis/envs/sandbox/v1';

export function isRockPath(path: string): boolean {
  return path === `/${ROCK_PREFIX}` || path.startsWith(`/${ROCK_PREFIX}/`);
}

/**
 * What a ROCK route answers for an error that escaped its handler (a body that is not JSON or is
 * too large, an upload over the limit, a route sandboxd does not have): ROCK's HTTP 200 Failed
 * envelope, never the /v1 error shape, which the SDK would not read. `errorId` is the id a server
 * fault was logged under.
 */
export function rockEnvelopeForError(
  path: string,
  exception: unknown,
  errorId?: string,
): RockEnvelope {
  const route = path.slice(ROCK_PREFIX.length + 2) || 'request';
  if (exception instanceof HttpException && !(exception instanceof CodedError)) {
    const status = exception.getStatus();
    if (status === Number(HttpStatus.NOT_FOUND)) {
      return rockFailure(
        `${route} failed`,
        `${route} is not supported by sandboxd's ROCK compatibility`,
        ROCK_CODES.badRequest,
      );
    }
    if (status === Number(HttpStatus.PAYLOAD_TOO_LARGE)) {
      return rockFailure(
        `${route} failed`,
        `the request is larger than this server accepts (FILE_SIZE_LIMIT for uploads): ${exception.message}`,
        ROCK_CODES.badRequest,
      );
    }
    if (status < 500) {
      return rockFailure(
        `${route} failed`,
        `invalid parameter: ${exception.message}`,
        ROCK_CODES.badRequest,
      );
    }
  }
  const failure = rockFailureOf(route, exception);
  // A server fault is logged under this id: the client can quote it.
  if (errorId !== undefined && failure.result) {
    failure.error = `${failure.error} (errorId ${errorId})`;
    failure.result.failure_reason = failure.error;
  }
  return failure;
}
