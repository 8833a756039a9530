import type Dockerode from 'dockerode';
import { EventQueue } from './event-queue';
import { killExecTree } from './exec-killer';
import { budgetExhausted, type ExecOutputBudget, type ExecOutputLease } from './exec-output-budget';
import { validateExecRequest } from './exec-request';
import { ExecSession, type ExecOutcome, type ProcessKiller } from './exec-session';
import type { ExecEvent, ExecRequest, ExecResult } from './exec-types';

/**
 * Bytes of output a stream holds before the process is paused (it then blocks on its full pipe)
 * until the consumer has taken half of them: a slow client holds back its own exec, not memory.
 */
export const STREAM_HIGH_WATER_BYTES = 1024 * 1024;

/** The two shapes of exec that DockerDeployment offers: collected, and streamed live. */

const defaultKiller: ProcessKiller = async (target) => {
  await killExecTree(target);
};

/** The reason of an abort; the kill has already happened when this is thrown. */
function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new Error('the exec was cancelled');
}

/**
 * Collects the output in memory. With a budget, every byte kept is charged to it as it arrives:
 * an exec refused at the start (budget spent) or stopped mid-way (it ran out) fails with
 * EXEC_OUTPUT_BUDGET_EXHAUSTED, its process tree killed. The charge is held until the caller
 * calls the result's release(), once it has written its answer.
 */
export async function runExec(
  docker: Dockerode,
  containerId: string,
  request: ExecRequest,
  signal?: AbortSignal,
  killer: ProcessKiller = defaultKiller,
  budget?: ExecOutputBudget,
  startBoundMs?: number,
): Promise<ExecResult> {
  validateExecRequest(request);
  const lease: ExecOutputLease | null = budget ? budget.lease() : null;
  try {
    const output: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
    let session: ExecSession | null = null;
    const collect = (stream: 'stdout' | 'stderr', data: Buffer): void => {
      if (lease && budget && !lease.grow(data.length)) {
        session?.fail(budgetExhausted(budget.limitBytes));
        return;
      }
      output[stream].push(data);
    };
    const options = { signal, killer, startBoundMs };
    session = await ExecSession.start(docker, containerId, request, collect, options);
    const outcome = await session.done;
    if (outcome.cancelled) throw abortReason(signal);
    return {
      exitCode: outcome.exitCode,
      stdout: Buffer.concat(output.stdout),
      stderr: Buffer.concat(output.stderr),
      timedOut: outcome.timedOut,
      truncated: outcome.truncated,
      durationMs: outcome.durationMs,
      release: () => lease?.release(),
    };
  } catch (error) {
    lease?.release();
    throw error;
  }
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
  startBoundMs?: number,
): Promise<AsyncIterable<ExecEvent>> {
  validateExecRequest(request);
  let session: ExecSession | null = null;
  const queue = new EventQueue<ExecEvent>({
    weigh: (event) => (event.type === 'exit' ? 0 : event.data.length),
    highWaterMark: STREAM_HIGH_WATER_BYTES,
    pause: () => session?.pause(),
    resume: () => session?.resume(),
  });
  session = await ExecSession.start(
    docker,
    containerId,
    request,
    (type, data) => queue.push({ type, data }),
    { signal, killer, startBoundMs },
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
  const started = session;
  return { [Symbol.asyncIterator]: () => follow(queue, started) };
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
