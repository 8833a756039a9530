import { CodedError } from '@app/domain';
import { Logger } from '@nestjs/common';
import type Dockerode from 'dockerode';
import { demuxLogs, lastLines } from './container-logs';
import { toContainerState } from './container-state';
import {
  engineMessage,
  isNetworkAmbiguous,
  isNetworkMissing,
  isNotFound,
  isNotModified,
  isPortConflict,
  toCodedError,
} from './docker-errors';
import { isSettledByBound } from './container-ops';
import { withEngineBound, type EngineBounds } from './engine-bounds';
import type { ContainerState } from './types';

/**
 * How long a freshly started user command must stay up to count as started. A command that
 * cannot run at all (bad arguments, missing file) dies within milliseconds; waiting longer would
 * slow every provision for little gain.
 */
export const STARTUP_GRACE_MS = 300;

/**
 * The watch a container's main process gets after start. The keep-alive command (no command and
 * no entrypoint given) is the operator's own and does not exit, so watching it would only add
 * the grace period to every create and restart: it is checked once, and a later death still
 * reaches the reconciler through Docker's events. A user command gets the full grace period, so
 * a command that fails at once is reported to the create that started it.
 */
export function startupGraceMs(spec: {
  command: readonly string[] | null;
  entrypoint: readonly string[] | null;
}): number {
  return spec.command === null && spec.entrypoint === null ? 0 : STARTUP_GRACE_MS;
}
const POLL_INTERVAL_MS = 50;
const LOG_LINES = 20;
const logger = new Logger('ContainerStarter');

/** Thrown by `startContainer` when a host port of the container is held by someone else. */
export class HostPortConflictError extends Error {
  constructor(readonly engineText: string) {
    super(engineText);
    this.name = 'HostPortConflictError';
  }
}

/**
 * Thrown by `startContainer` when the container's network no longer exists (removed behind the
 * service's back): the caller can make it again and retry.
 */
export class NetworkMissingError extends Error {
  constructor(
    readonly engineText: string,
    /** Two networks carry the name (a racing replica's twin), rather than none. */
    readonly ambiguous = false,
  ) {
    super(engineText);
    this.name = 'NetworkMissingError';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `docker start`; already running (304) is success. */
export async function startContainer(
  docker: Dockerode,
  containerId: string,
  bounds: EngineBounds,
  signal?: AbortSignal,
): Promise<void> {
  try {
    const bound = { kind: 'start', boundMs: bounds.start, target: containerId, signal } as const;
    await withEngineBound(bound, (abortSignal) =>
      docker.getContainer(containerId).start({ abortSignal }),
    );
  } catch (error) {
    if (isNotModified(error)) return;
    if (isSettledByBound(error, signal)) throw error;
    if (isPortConflict(error)) throw new HostPortConflictError(engineMessage(error));
    // Before the 404 below, which would read it as the container being gone.
    if (isNetworkMissing(error)) throw new NetworkMissingError(engineMessage(error));
    // A racing replica's twin of the sandbox network, about to be removed: the provision retries.
    if (isNetworkAmbiguous(error)) throw new NetworkMissingError(engineMessage(error), true);
    if (isNotFound(error)) {
      throw new CodedError('CONTAINER_FAILED', `container ${containerId} no longer exists`, {
        containerId,
        reason: 'missing',
      });
    }
    // reason 'engine': the engine itself refused, which readiness counts (sandbox-health.ts).
    throw toCodedError(error, 'CONTAINER_FAILED', `container ${containerId} could not start`, {
      containerId,
      reason: 'engine',
    });
  }
}

/**
 * Watches a just-started container for `graceMs` (0: one look) and returns its state, or throws
 * CONTAINER_FAILED with the exit code and the last log lines if the main process ended.
 */
export async function confirmRunning(
  docker: Dockerode,
  containerId: string,
  defaultHost: string,
  graceMs: number,
  bounds: EngineBounds,
  signal?: AbortSignal,
): Promise<ContainerState> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const state = await inspectState(docker, containerId, defaultHost, bounds, signal);
    if (!state.running) throw await exitedError(docker, state, bounds);
    if (Date.now() >= deadline) return state;
    await sleep(Math.min(POLL_INTERVAL_MS, Math.max(0, deadline - Date.now())));
  }
}

async function inspectState(
  docker: Dockerode,
  containerId: string,
  defaultHost: string,
  bounds: EngineBounds,
  signal: AbortSignal | undefined,
): Promise<ContainerState> {
  try {
    const bound = {
      kind: 'inspect',
      boundMs: bounds.inspect,
      target: containerId,
      signal,
    } as const;
    const info = await withEngineBound(bound, (abortSignal) =>
      docker.getContainer(containerId).inspect({ abortSignal }),
    );
    return toContainerState(info, defaultHost);
  } catch (error) {
    if (isSettledByBound(error, signal)) throw error;
    if (isNotFound(error)) {
      throw new CodedError('CONTAINER_FAILED', `container ${containerId} disappeared after start`, {
        containerId,
        reason: 'missing',
      });
    }
    throw toCodedError(error, 'CONTAINER_FAILED', `could not inspect container ${containerId}`);
  }
}

/**
 * The error of a main process that ended right after start: exit code and OOM only. Its output
 * is not put in the message (which becomes failureReason and stateHistory, and an HTTP answer):
 * it can print the sandbox's env values, which are secrets. The operator's log gets how much
 * output there was; `docker logs` on the host shows it while the container exists.
 */
async function exitedError(
  docker: Dockerode,
  state: ContainerState,
  bounds: EngineBounds,
): Promise<CodedError> {
  const lines = (await tailLogs(docker, state.containerId, bounds)).length;
  const oom = state.oomKilled ? ' (killed for running out of memory)' : '';
  logger.warn(
    `container ${state.containerId} exited right after start with code ${state.exitCode ?? 'unknown'}${oom}; ${lines} line(s) of output, not shown to the caller`,
  );
  return new CodedError(
    'CONTAINER_FAILED',
    `the main process exited right after start with code ${state.exitCode ?? 'unknown'}${oom}`,
    {
      containerId: state.containerId,
      exitCode: state.exitCode,
      oomKilled: state.oomKilled,
      status: state.status,
      reason: 'exited',
    },
  );
}

/** Best effort: only the line count is used, so failing to read them must not hide the error. */
async function tailLogs(
  docker: Dockerode,
  containerId: string,
  bounds: EngineBounds,
): Promise<string[]> {
  try {
    // A log read is as small as an inspect, so it shares the inspect's bound.
    const bound = { kind: 'inspect', boundMs: bounds.inspect, target: containerId } as const;
    const buffer = await withEngineBound(bound, (abortSignal) =>
      docker
        .getContainer(containerId)
        .logs({ stdout: true, stderr: true, tail: LOG_LINES, follow: false, abortSignal }),
    );
    return lastLines(demuxLogs(buffer), LOG_LINES);
  } catch {
    return [];
  }
}
