import { CodedError } from '@app/domain';

/** The kinds of single engine call that get their own bound (DOCKER_<KIND>_TIMEOUT_SECONDS). */
export type EngineCall = 'create' | 'start' | 'stop' | 'remove' | 'inspect' | 'execStart';

export type EngineBounds = Readonly<Record<EngineCall, number>>;

const VARIABLE: Record<EngineCall, string> = {
  create: 'DOCKER_CREATE_TIMEOUT_SECONDS',
  start: 'DOCKER_START_TIMEOUT_SECONDS',
  stop: 'DOCKER_STOP_TIMEOUT_SECONDS',
  remove: 'DOCKER_REMOVE_TIMEOUT_SECONDS',
  inspect: 'DOCKER_INSPECT_TIMEOUT_SECONDS',
  execStart: 'DOCKER_EXEC_START_TIMEOUT_SECONDS',
};

/** What to bound: the kind of call, its bound in ms, and what it acts on (for the message). */
export interface BoundedCall {
  kind: EngineCall;
  boundMs: number;
  target: string;
  /** The caller's own abort (a lost lock, a stopped effect): aborts the request too. */
  signal?: AbortSignal;
}

/**
 * Runs one engine call with a deadline. The signal handed to `call` aborts at the bound (or with
 * the caller's signal), and dockerode passes it to the HTTP request, so the request to dockerd is
 * destroyed rather than left pending. The race is the belt to those braces: even a call that
 * ignored its signal settles at the bound. Past the bound: ENGINE_TIMEOUT naming the call and its
 * bound; on the caller's abort: the caller's reason.
 */
export async function withEngineBound<T>(
  bound: BoundedCall,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  bound.signal?.throwIfAborted();
  const timer = new AbortController();
  const handle = setTimeout(() => timer.abort(timedOut(bound)), bound.boundMs);
  const signal = bound.signal ? AbortSignal.any([bound.signal, timer.signal]) : timer.signal;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([call(signal), aborted]);
  } catch (error) {
    // The request rejects with a bare AbortError; the reason says why it was aborted.
    if (signal.aborted) throw signal.reason;
    throw error;
  } finally {
    clearTimeout(handle);
    if (onAbort) signal.removeEventListener('abort', onAbort);
    // The race's loser must not become an unhandled rejection.
    aborted.catch(() => undefined);
  }
}

function timedOut(bound: BoundedCall): CodedError {
  const seconds = bound.boundMs / 1000;
  return new CodedError(
    'ENGINE_TIMEOUT',
    `the Docker engine did not answer the ${bound.kind} call for ${bound.target} within ${seconds} s (${VARIABLE[bound.kind]}); the request was aborted`,
    { call: bound.kind, target: bound.target, boundMs: bound.boundMs },
  );
}
