import { CodedError } from '@app/config';
import type Dockerode from 'dockerode';
import { toContainerState } from './container-state';
import {
  engineMessage,
  isConflict,
  isNotFound,
  isNotModified,
  toCodedError,
} from './docker-errors';
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
): Promise<ContainerState | null> {
  try {
    return toContainerState(await docker.getContainer(idOrName).inspect(), defaultHost);
  } catch (error) {
    if (isNotFound(error)) return null;
    throw toCodedError(error, 'CONTAINER_FAILED', `could not inspect container ${idOrName}`);
  }
}

/** `docker stop`; an already stopped container (304) counts as stopped, a missing one (404) not. */
export async function stopContainer(
  docker: Dockerode,
  containerId: string,
  timeoutSeconds: number,
): Promise<'stopped' | 'missing'> {
  try {
    await docker.getContainer(containerId).stop({ t: timeoutSeconds });
    return 'stopped';
  } catch (error) {
    if (isNotModified(error)) return 'stopped';
    if (isNotFound(error)) return 'missing';
    throw toCodedError(error, 'CONTAINER_FAILED', `could not stop container ${containerId}`, {
      containerId,
    });
  }
}

/** Force-removes a container with its anonymous volumes; one already gone is success. */
export async function removeContainer(docker: Dockerode, containerId: string): Promise<void> {
  try {
    await docker.getContainer(containerId).remove({ force: true, v: true });
  } catch (error) {
    if (isNotFound(error)) return;
    // Someone else is removing it right now: wait for that instead of failing.
    if (isConflict(error) && /already in progress/i.test(engineMessage(error))) {
      return waitUntilGone(docker, containerId);
    }
    throw toCodedError(error, 'CONTAINER_FAILED', `could not remove container ${containerId}`, {
      containerId,
    });
  }
}

async function waitUntilGone(docker: Dockerode, containerId: string): Promise<void> {
  const deadline = Date.now() + REMOVAL_WAIT_MS;
  while (Date.now() < deadline) {
    if ((await inspectContainer(docker, containerId, '')) === null) return;
    await sleep(REMOVAL_POLL_MS);
  }
  throw new CodedError('CONTAINER_FAILED', `container ${containerId} is still being removed`, {
    containerId,
  });
}
