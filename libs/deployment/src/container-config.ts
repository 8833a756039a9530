import type { DockerConfig } from '@app/config';
import type { ContainerCreateOptions } from 'dockerode';
import { LABEL_INSTANCE, LABEL_MANAGED, LABEL_POOL, LABEL_SANDBOX_ID } from './labels';
import type { ContainerSpec } from './types';

export type ContainerConfigSettings = Pick<
  DockerConfig,
  'instanceId' | 'portBindAddress' | 'keepAliveCommand'
>;

export const CONTAINER_NAME_PREFIX = 'sandboxd-';

/** One name per sandbox: Docker refuses a second container with it, which makes create idempotent. */
export function containerNameFor(sandboxId: string): string {
  return `${CONTAINER_NAME_PREFIX}${sandboxId}`;
}

/** The distinct container ports of a spec, in first-seen order (a port can be published once). */
export function requestedPorts(spec: Pick<ContainerSpec, 'ports'>): number[] {
  return [...new Set(spec.ports)];
}

export function portKey(containerPort: number): string {
  return `${containerPort}/tcp`;
}

/**
 * Builds the create request for a sandbox container. Pure, so the security-relevant defaults
 * (init, no-new-privileges, never privileged, no socket mounts, swap capped at the memory limit)
 * are unit-tested without an engine.
 *
 * @param hostPorts container port → host port, one entry per `requestedPorts(spec)`.
 */
export function buildContainerConfig(
  spec: ContainerSpec,
  hostPorts: ReadonlyMap<number, number>,
  settings: ContainerConfigSettings,
): ContainerCreateOptions {
  const exposedPorts: Record<string, Record<string, never>> = {};
  const portBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const containerPort of requestedPorts(spec)) {
    const hostPort = hostPorts.get(containerPort);
    if (hostPort === undefined) {
      throw new Error(`no host port allocated for container port ${containerPort}`);
    }
    exposedPorts[portKey(containerPort)] = {};
    portBindings[portKey(containerPort)] = [
      { HostIp: settings.portBindAddress, HostPort: String(hostPort) },
    ];
  }

  return {
    name: containerNameFor(spec.sandboxId),
    Image: spec.image,
    ...processConfig(spec, settings.keepAliveCommand),
    Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
    // Ours are spread last so a user label can never override the ownership labels.
    Labels: {
      ...spec.labels,
      [LABEL_MANAGED]: 'true',
      [LABEL_INSTANCE]: settings.instanceId,
      [LABEL_SANDBOX_ID]: spec.sandboxId,
      ...(spec.poolKey ? { [LABEL_POOL]: spec.poolKey } : {}),
    },
    ExposedPorts: exposedPorts,
    Tty: false,
    OpenStdin: false,
    HostConfig: {
      PortBindings: portBindings,
      // Docker's init (tini) runs as PID 1 so orphaned processes of agents are reaped.
      Init: true,
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      // The service decides when a sandbox runs; the engine must not revive one on its own.
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      ...resourceLimits(spec),
      ...(typeof spec.pidsLimit === 'number' ? { PidsLimit: spec.pidsLimit } : {}),
      ...(typeof spec.storageBytes === 'number'
        ? { StorageOpt: { size: String(spec.storageBytes) } }
        : {}),
      ...(spec.runtime ? { Runtime: spec.runtime } : {}),
      ...(spec.logMount
        ? {
            Mounts: [
              {
                Type: 'bind' as const,
                Source: spec.logMount.hostPath,
                Target: spec.logMount.containerPath,
                ReadOnly: false,
              },
            ],
          }
        : {}),
    },
  };
}

/**
 * Without an explicit command the image's own ENTRYPOINT/CMD may exit at once (CMD ["sh"] without a
 * TTY does), so a sandbox gets the keep-alive command as entrypoint and an empty Cmd: the image's
 * CMD must not be appended as arguments to it.
 */
function processConfig(
  spec: Pick<ContainerSpec, 'command' | 'entrypoint'>,
  keepAliveCommand: readonly string[],
): Pick<ContainerCreateOptions, 'Entrypoint' | 'Cmd'> {
  if (spec.command === null && spec.entrypoint === null) {
    return { Entrypoint: [...keepAliveCommand], Cmd: [] };
  }
  const result: Pick<ContainerCreateOptions, 'Entrypoint' | 'Cmd'> = {};
  if (spec.entrypoint !== null) result.Entrypoint = [...spec.entrypoint];
  if (spec.command !== null) result.Cmd = [...spec.command];
  return result;
}

function resourceLimits(
  spec: Pick<ContainerSpec, 'cpus' | 'memoryBytes'>,
): Pick<NonNullable<ContainerCreateOptions['HostConfig']>, 'Memory' | 'MemorySwap' | 'NanoCpus'> {
  const limits: Pick<
    NonNullable<ContainerCreateOptions['HostConfig']>,
    'Memory' | 'MemorySwap' | 'NanoCpus'
  > = {};
  if (spec.memoryBytes !== null) {
    // MemorySwap is memory + swap; equal values mean no swap beyond the limit.
    limits.Memory = spec.memoryBytes;
    limits.MemorySwap = spec.memoryBytes;
  }
  if (spec.cpus !== null) limits.NanoCpus = Math.round(spec.cpus * 1e9);
  return limits;
}
