import type Dockerode from 'dockerode';
import { EventQueue } from './event-queue';
import { killExecTree } from './exec-killer';
import { validateExecRequest } from './exec-request';
import { ExecSession, type ExecOutcome, type ProcessKiller } from './exec-session';
import type { ExecEvent, ExecRequest, ExecResult } from './exec-types';

/** The two shapes of exec that DockerDeployment offers: collected, and streamed live. */

const defaultKiller: ProcessKiller = async (target) => {
  await killExecTree(target);
};

/** The reason of an abort; the kill has already happened when this is thrown. */
function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new Error('the exec was cancelled');
}

export async function runExec(
  docker: Dockerode,
  containerId: string,
  request: ExecRequest,
  signal?: AbortSignal,
  killer: ProcessKiller = defaultKiller,
): Promise<ExecResult> {
  validateExecRequest(request);
  const output: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
  const session = await ExecSession.start(
    docker,
    containerId,
    request,
    (stream, data) => output[stream].push(data),
    { signal, killer },
  );
  const outcome = await session.done;
  if (outcome.cancelled) throw abortReason(signal);
  return {
    exitCode: outcome.exitCode,
    stdout: Buffer.concat(output.stdout),
    stderr: Buffer.concat(output.stderr),
    timedOut: outcome.timedOut,
    truncated: outcome.truncated,
    durationMs: outcome.durationMs,
  };
}

/**
 * Resolves once the process has started, so that a missing container or a stopped one is reported
 * before the caller commits to a streamed answer. Leaving the iteration early (break, return, a
 * throw in the loop) kills the process tree; an abort does too and makes the iteration throw.
 */
export async function streamExec(
  docker: Dockerode,
  containerId: string,
  request: ExecRequest,
  signal?: AbortSignal,
  killer: ProcessKiller = defaultKiller,
): Promise<AsyncIterable<ExecEvent>> {
  validateExecRequest(request);
  const queue = new EventQueue<ExecEvent>();
  const session = await ExecSession.start(
    docker,
    containerId,
    request,
    (type, data) => queue.push({ type, data }),
    { signal, killer },
  );
  session.done.then(
    (outcome: ExecOutcome) => {
      if (outcome.cancelled && signal?.aborted) return queue.fail(abortReason(signal));
      queue.push({
        type: 'exit',
        exitCode: outcome.exitCode,
        timedOut: outcome.timedOut,
        truncated: outcome.truncated,
        durationMs: outcome.durationMs,
      });
      queue.end();
    },
    (error: unknown) => queue.fail(error),
  );
  return { [Symbol.asyncIterator]: () => follow(queue, session) };
}

async function* follow(
  queue: EventQueue<ExecEvent>,
  session: ExecSession,
): AsyncGenerator<ExecEvent> {
  try {
    yield* queue;
  } finally {
    // A no-op once the process has ended; otherwise the consumer left early.
    session.cancel();
    await session.done.catch(() => undefined);
  }
}
