import { validationError } from '@app/domain';
import type { ExecCreateOptions } from 'dockerode';
import type { ExecRequest } from './exec-types';

/**
 * Every exec carries this variable with a random value. Children inherit it, so the whole process
 * tree of one exec can be found again (to kill it) even after its first process has exited and
 * its children were re-parented.
 */
export const EXEC_MARKER_ENV = 'SANDBOXD_EXEC_ID';

export const MAX_EXEC_TIMEOUT_MS = 24 * 60 * 60 * 1000;
export const MAX_EXEC_OUTPUT_BYTES = 1024 * 1024 * 1024;

const ENV_NAME = /^[^=\0]+$/;
// The engine accepts user, uid, user:group and uid:gid; anything else would only fail later.
const USER = /^[A-Za-z0-9._-]+(:[A-Za-z0-9._-]+)?$/;

function hasNul(text: string): boolean {
  return text.includes('\0');
}

function positiveInteger(field: string, value: unknown, max: number, allowZero: boolean): number {
  const min = allowZero ? 0 : 1;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw validationError(field, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** Checks a request before anything reaches the engine; returns it unchanged. */
export function validateExecRequest(request: ExecRequest): ExecRequest {
  const { argv, env = {}, cwd, user, stdin } = request;
  if (!Array.isArray(argv) || argv.length === 0) {
    throw validationError('argv', 'must name a program');
  }
  if (argv.some((arg) => typeof arg !== 'string' || hasNul(arg)) || argv[0] === '') {
    throw validationError('argv', 'must be strings without NUL bytes, the first not empty');
  }
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name) || typeof value !== 'string' || hasNul(value)) {
      throw validationError('env', `${JSON.stringify(name)} is not a valid variable`);
    }
    if (name === EXEC_MARKER_ENV) throw validationError('env', `${name} is reserved`);
  }
  if (cwd !== undefined && (typeof cwd !== 'string' || !cwd.startsWith('/') || hasNul(cwd))) {
    throw validationError('cwd', 'must be an absolute path');
  }
  if (user !== undefined && (typeof user !== 'string' || !USER.test(user))) {
    throw validationError('user', 'must be user, uid, user:group or uid:gid');
  }
  if (stdin !== undefined && typeof stdin !== 'string' && !Buffer.isBuffer(stdin)) {
    throw validationError('stdin', 'must be a string or bytes');
  }
  positiveInteger('timeoutMs', request.timeoutMs, MAX_EXEC_TIMEOUT_MS, false);
  positiveInteger('outputLimitBytes', request.outputLimitBytes, MAX_EXEC_OUTPUT_BYTES, true);
  return request;
}

/** The engine's exec create body. No TTY: stdout and stderr then arrive as separate frames. */
export function execCreateOptions(request: ExecRequest, marker: string): ExecCreateOptions {
  const env = Object.entries(request.env ?? {}).map(([name, value]) => `${name}=${value}`);
  const options: ExecCreateOptions = {
    Cmd: [...request.argv],
    Env: [...env, `${EXEC_MARKER_ENV}=${marker}`],
    AttachStdin: request.stdin !== undefined,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  };
  if (request.cwd !== undefined) options.WorkingDir = request.cwd;
  if (request.user !== undefined) options.User = request.user;
  return options;
}
