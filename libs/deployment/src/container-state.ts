import type { ContainerInfo, ContainerInspectInfo } from 'dockerode';
import { LABEL_INSTANCE, LABEL_POOL, LABEL_SANDBOX_ID } from './labels';
import { bindAddressOf, tcpPortMap } from './port-map';
import type { ContainerState, OwnedContainer } from './types';

/** Docker reports "never" as the zero time; the service wants null. */
function timeOrNull(value: string | undefined): string | null {
  return !value || value.startsWith('0001-01-01') ? null : value;
}

/**
 * Flattens `docker inspect` into ContainerState. Ports come from HostConfig.PortBindings, which
 * (unlike NetworkSettings.Ports) survive a stop, so a stopped sandbox still reports the host ports
 * it will get back on restart; live bindings overlay them when the container runs.
 *
 * @param defaultHost reported when no binding names an address (a container without ports).
 */
export function toContainerState(info: ContainerInspectInfo, defaultHost: string): ContainerState {
  const labels = info.Config?.Labels ?? {};
  const configured: unknown = info.HostConfig?.PortBindings;
  const live: unknown = info.NetworkSettings?.Ports;
  const state = info.State;
  const started = timeOrNull(state.StartedAt);
  return {
    containerId: info.Id,
    name: info.Name.replace(/^\//, ''),
    running: state.Running,
    status: state.Status,
    // Exit code means something only once the process ran and ended.
    exitCode: started !== null && !state.Running ? state.ExitCode : null,
    oomKilled: state.OOMKilled,
    createdAt: timeOrNull(info.Created),
    startedAt: started,
    finishedAt: timeOrNull(state.FinishedAt),
    ports: { ...tcpPortMap(configured), ...tcpPortMap(live) },
    host: bindAddressOf(configured) ?? defaultHost,
    labels: { ...labels },
    sandboxId: labels[LABEL_SANDBOX_ID] ?? null,
    instanceId: labels[LABEL_INSTANCE] ?? null,
    poolKey: labels[LABEL_POOL] ?? null,
    networkMode: info.HostConfig?.NetworkMode ?? null,
    // Kept while stopped, so a restart can tell whether the container is on the sandbox network.
    networks: Object.fromEntries(
      Object.entries(info.NetworkSettings?.Networks ?? {}).map(([name, endpoint]) => [
        name,
        endpoint.NetworkID ?? '',
      ]),
    ),
  };
}

/**
 * A running container as the list answer describes it (`docker ps`): state, labels, name and
 * creation time are there, so no inspect is needed. Null for any other state (paused and
 * restarting included), whose exit code, OOM kill and finish time only an inspect has.
 */
export function runningFromListing(info: ContainerInfo): OwnedContainer | null {
  if (info.State !== 'running') return null;
  const labels = info.Labels ?? {};
  return {
    containerId: info.Id,
    name: (info.Names?.[0] ?? '').replace(/^\//, ''),
    running: true,
    status: info.State,
    exitCode: null,
    oomKilled: false,
    // The list has whole seconds since the epoch; the orphan grace is counted in seconds too.
    createdAt: new Date(info.Created * 1000).toISOString(),
    finishedAt: null,
    labels: { ...labels },
    sandboxId: labels[LABEL_SANDBOX_ID] ?? null,
    instanceId: labels[LABEL_INSTANCE] ?? null,
    poolKey: labels[LABEL_POOL] ?? null,
  };
}
