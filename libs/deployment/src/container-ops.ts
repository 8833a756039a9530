import { CodedError, isCodedError } from '@app/domain';
import type Dockerode from 'dockerode';
import { toContainerState } from './container-state';
import {
  engineMessage,
  isConflict,
  isNotFound,
  isNotModified,
  toCodedError,
} from './docker-errors';
import { withEngineBound, type EngineBounds } from './engine-bounds';
import type { ContainerState } from './types';

/**
 * The single-container engine calls, each tolerant of the state it is meant to reach (already
 * stopped, already gone) so that repeating one after a crash or a timeout is always safe.
 */

const REMOVAL_WAIT_MS = 15_000;
const REMOVAL_POLL_MS = 100;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function inspectContainer(
  docker: Dockerode,
  idOrName: string,
  defaultHost: string,
  bounds: EngineBounds,
  signal?: AbortSignal,
): Promise<ContainerState | null> {
  try {
    const bound = { kind: 'inspect', boundMs: bounds.inspect, target: idOrName, signal } as const;
    const info = await withEngineBound(bound, (abortSignal) =>
      docker.getContainer(idOrName).inspect({ abortSignal }),
    );
    return toContainerState(info, defaultHost);
  } catch (error) {
    if (isNotFound(error)) return null;
    if (isSettledByBound(error, signal)) throw error;
    throw toCodedError(error, 'CONTAINER_FAILED', `could not inspect container ${idOrName}`);
  }
}

/**
 * `docker stop`; an already stopped container (304) counts as stopped, a missing one (404) not.
 * Its bound counts from the end of the grace period, as the engine itself waits that long.
 */
export async function stopContainer(
  docker: Dockerode,
  containerId: string,
  timeoutSeconds: number,
  bounds: EngineBounds,
  signal?: AbortSignal,
): Promise<'stopped' | 'missing'> {
  try {
    const boundMs = timeoutSeconds * 1000 + bounds.stop;
    const bound = { kind: 'stop', boundMs, target: containerId, signal } as const;
    await withEngineBound(bound, (abortSignal) =>
      docker.getContainer(containerId).stop({ t: timeoutSeconds, abortSignal }),
    );
    return 'stopped';
  } catch (error) {
    if (isNotModified(error)) return 'stopped';
    if (isNotFound(error)) return 'missing';
    if (isSettledByBound(error, signal)) throw error;
    throw toCodedError(error, 'CONTAINER_FAILED', `could not stop container ${containerId}`, {
      containerId,
    });
  }
}

/** Force-removes a container with its anonymous volumes; one already gone is success. */
export async function removeContainer(
  docker: Dockerode,
  containerId: string,
  bounds: EngineBounds,
  signal?: AbortSignal,
): Promise<void> {
  try {
    const bound = { kind: 'remove', boundMs: bounds.remove, target: containerId, signal } as const;
    await withEngineBound(bound, (abortSignal) =>
      docker.getContainer(containerId).remove({ force: true, v: true, abortSignal }),
    );
  } catch (error) {
    if (isNotFound(error)) return;
    if (isSettledByBound(error, signal)) throw error;
    // Someone else is removing it right now: wait for that instead of failing.
    if (isConflict(error) && /already in progress/i.test(engineMessage(error))) {
      return waitUntilGone(docker, containerId, bounds, signal);
    }
    throw toCodedError(error, 'CONTAINER_FAILED', `could not remove container ${containerId}`, {
      containerId,
    });
  }
}

async function waitUntilGone(
  docker: Dockerode,
  containerId: string,
  bounds: EngineBounds,
  signal: AbortSignal | undefined,
): Promise<void> {
  const deadline = Date.now() + REMOVAL_WAIT_MS;
  while (Date.now() < deadline) {
    if ((await inspectContainer(docker, containerId, '', bounds, signal)) === null) return;
    await sleep(REMOVAL_POLL_MS);
  }
  throw new CodedError('CONTAINER_FAILED', `container ${containerId} is still being removed`, {
    containerId,
  });
}

/**
 * An error that must pass through unchanged: a call past its bound (already ENGINE_TIMEOUT) or
 * one the caller aborted (its own reason, e.g. the lost lock), not an engine answer to translate.
 */
export function isSettledByBound(error: unknown, signal: AbortSignal | undefined): boolean {
  return (
    isCodedError(error, 'ENGINE_TIMEOUT') || (signal?.aborted === true && error === signal.reason)
  );
}
