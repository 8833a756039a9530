import { SandboxInfo, SandboxState } from '@app/domain';
import { formatMemorySize, stateAllows, stateHasTag } from '@app/sandbox';
import { OWNER_LABELS } from './start-request';

/** One phase of a start as ROCK reports it (`PhaseStatus`). */
export interface RockPhase {
  status: 'waiting' | 'running' | 'success' | 'failed' | 'timeout';
  message: string;
}

/** ROCK's `SandboxStatusResponse`: every string a string, never null where the SDK wants one. */
export interface RockStatus {
  sandbox_id: string;
  status: Record<string, RockPhase>;
  state: SandboxState;
  is_alive: boolean;
  port_mapping: Record<string, number>;
  host_name: string;
  host_ip: string | null;
  image: string;
  user_id: string | null;
  experiment_id: string | null;
  namespace: string | null;
  cpus: number | null;
  memory: string | null;
  disk: string | null;
  disk_limit_rootfs: string | null;
  start_time: string | null;
  stop_time: string | null;
  create_time: string;
  delete_time: string | null;
  archive_time: null;
  auto_stop_time: string | null;
  auto_archive_time: null;
  auto_delete_time: string | null;
  state_history: { from_state: string; to_state: string; event: string; timestamp: string }[];
}

/** ROCK's `SandboxStartResponse` (start_async, restart); the SDK reads the id and the host. */
export interface RockStart {
  sandbox_id: string;
  host_name: string;
  host_ip: string | null;
  cpus: number | null;
  memory: string | null;
  disk: string | null;
  disk_limit_rootfs: string | null;
}

/** A sandbox whose last transition was a failed create or restart. */
function failedToStart(info: SandboxInfo): boolean {
  // The last transition says it: it entered stopped, and nothing happened since.
  return info.stateHistory.at(-1)?.event === 'startFailed';
}

/**
 * Whether plain get_status (include_all_states=false) shows the sandbox: pending and running
 * ones, as on ROCK, and one whose start just failed, so the SDK's start loop reads the failed
 * phase and raises its reason instead of an opaque "not found".
 */
export function visibleByDefault(info: SandboxInfo): boolean {
  return stateAllows(info, 'keepAlive') || failedToStart(info);
}

/**
 * The phases of the current (or last) start, derived from the record, so a failure from before
 * a restart never shows: the SDK aborts start() and restart() on any failed phase.
 */
export function phasesOf(info: SandboxInfo): Record<string, RockPhase> {
  const done: RockPhase = { status: 'success', message: '' };
  if (failedToStart(info)) {
    return {
      image_pull: done,
      docker_run: {
        status: 'failed',
        message: info.failureReason ?? 'the container did not start',
      },
    };
  }
  if (stateHasTag(info, 'starting')) {
    const restarting = info.stateHistory.at(-1)?.event === 'restart';
    return restarting
      ? { image_pull: done, docker_run: { status: 'running', message: 'starting the container' } }
      : {
          image_pull: { status: 'running', message: 'preparing the image and the container' },
          docker_run: { status: 'waiting', message: '' },
        };
  }
  return { image_pull: done, docker_run: done };
}

/** `requestedId` is what the client names the sandbox by (its id, or the name it chose). */
export function toStatus(info: SandboxInfo, requestedId: string): RockStatus {
  const disk = info.disk?.requested ?? null;
  return {
    sandbox_id: requestedId,
    status: phasesOf(info),
    state: info.state,
    // Alive: the machine takes exec now (running, nothing in flight).
    is_alive: stateAllows(info, 'exec'),
    port_mapping: { ...info.ports },
    host_name: hostNameOf(info),
    host_ip: info.host,
    image: info.image,
    user_id: info.labels[OWNER_LABELS.user_id] ?? null,
    experiment_id: info.labels[OWNER_LABELS.experiment_id] ?? null,
    namespace: info.labels[OWNER_LABELS.namespace] ?? null,
    cpus: info.cpus,
    memory: info.memoryBytes === null ? null : formatMemorySize(info.memoryBytes),
    disk,
    disk_limit_rootfs: disk,
    start_time: info.startedAt,
    stop_time: info.stoppedAt,
    create_time: info.createdAt,
    delete_time: info.deletedAt,
    archive_time: null,
    auto_stop_time: info.autoStopAt,
    auto_archive_time: null,
    auto_delete_time: info.autoDeleteAt,
    state_history: info.stateHistory.map((entry) => ({
      from_state: entry.from,
      to_state: entry.to,
      event: entry.event,
      timestamp: entry.at,
    })),
  };
}

export function toStart(info: SandboxInfo, requestedId: string): RockStart {
  const disk = info.disk?.requested ?? null;
  return {
    sandbox_id: requestedId,
    host_name: hostNameOf(info),
    host_ip: info.host,
    cpus: info.cpus,
    memory: info.memoryBytes === null ? null : formatMemorySize(info.memoryBytes),
    disk,
    disk_limit_rootfs: disk,
  };
}

/**
 * Never null: the SDK's is_alive() fails on a null host_name. The service instance that made the
 * sandbox (INSTANCE_ID, the host name by default) is what ROCK's worker host name stands for.
 */
function hostNameOf(info: SandboxInfo): string {
  return info.instanceId;
}
