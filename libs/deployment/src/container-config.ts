import type { DockerConfig } from '@app/config';
import type { ContainerCreateOptions } from 'dockerode';
import { LABEL_INSTANCE, LABEL_MANAGED, LABEL_POOL, LABEL_SANDBOX_ID } from './labels';
import type { ContainerSpec } from './types';

/** A Linux capability's name as Docker takes it (the config slice validates SANDBOX_CAP_ADD). */
type LinuxCapability = DockerConfig['capAdd'][number];

export type ContainerConfigSettings = Pick<
  DockerConfig,
  'instanceId' | 'portBindAddress' | 'keepAliveCommand' | 'capAdd'
>;

/**
 * The capabilities a sandbox keeps: Docker's default set without NET_RAW (raw sockets: spoofing,
 * ARP games on the bridge), MKNOD (device nodes), SYS_CHROOT, SETFCAP (file capabilities) and
 * AUDIT_WRITE. Given as the whole set after dropping ALL, so the result does not depend on the
 * engine's own default. SANDBOX_CAP_ADD gives more back.
 */
export const SANDBOX_CAPABILITIES: readonly LinuxCapability[] = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'NET_BIND_SERVICE',
];

/** The capability set of a sandbox: the kept ones and those the operator gives back, each once. */
export function capabilitiesOf(capAdd: readonly LinuxCapability[]): LinuxCapability[] {
  return [...new Set([...SANDBOX_CAPABILITIES, ...capAdd])];
}

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
 * (init, no-new-privileges, never privileged, the reduced capability set, the network, no socket
 * mounts, swap capped at the memory limit) are unit-tested without an engine.
 *
 * @param hostPorts container port → host port, one entry per `requestedPorts(spec)`.
 * @param sandboxNetworkId the id of sandboxd's network (SandboxNetwork), for a `bridge` sandbox;
 *   unused by a `none` one.
 */
export function buildContainerConfig(
  spec: ContainerSpec,
  hostPorts: ReadonlyMap<number, number>,
  settings: ContainerConfigSettings,
  sandboxNetworkId: string,
): ContainerCreateOptions {
  const network = spec.network ?? 'bridge';
  if (network === 'none' && requestedPorts(spec).length > 0) {
    // Checked upstream (a 400); a port published into no network would be a silent lie.
    throw new Error(`sandbox ${spec.sandboxId}: ports cannot be published without a network`);
  }
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
      // By id: a second network of the same name (another replica's race) can never be taken.
      NetworkMode: network === 'none' ? 'none' : sandboxNetworkId,
      // Docker's init (tini) runs as PID 1 so orphaned processes of agents are reaped.
      Init: true,
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      CapDrop: ['ALL'],
      CapAdd: capabilitiesOf(settings.capAdd),
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
