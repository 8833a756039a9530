import { createHash } from 'node:crypto';
import type { ResourcesConfig } from '@app/config';
import type { SandboxNetwork, SandboxSpec } from '@app/domain';
import { parseMemorySize } from './memory-size';

/** A create request after HTTP validation; the domain re-checks nothing the edge already checked. */
export interface CreateSandboxInput {
  image: string;
  name?: string;
  cpus?: number;
  memory?: string;
  pidsLimit?: number;
  /** Disk budget of the writable layer and the log directory, e.g. "10g". */
  disk?: string;
  runtime?: string;
  /** `bridge` (default): sandboxd's own network; `none`: no network at all. */
  network?: SandboxNetwork;
  env?: Record<string, string>;
  labels?: Record<string, string>;
  ports?: number[];
  idleTimeoutSeconds?: number;
  /** Hard deadline from start, whatever the activity. */
  maxLifetimeSeconds?: number;
  autoDeleteSeconds?: number;
  /** Exempt from auto-delete and force-delete until unset. */
  protected?: boolean;
  command?: string[];
  entrypoint?: string[];
  /** Where it may run (CLUSTER=swarm): labels the chosen node must carry. */
  placement?: { nodeLabels?: Record<string, string> };
}

/** The stored deployment spec: requested values with the service defaults filled in. */
export function toSandboxSpec(input: CreateSandboxInput, config: ResourcesConfig): SandboxSpec {
  const memory = input.memory ?? config.defaultMemory;
  const disk = input.disk ?? config.defaultDisk;
  return {
    image: input.image,
    cpus: input.cpus ?? config.defaultCpus,
    memoryBytes: memory === null ? null : parseMemorySize(memory),
    // -1 asks for no limit at all, as Docker spells it.
    pidsLimit: input.pidsLimit === -1 ? null : (input.pidsLimit ?? config.defaultPidsLimit),
    disk,
    diskBytes: disk === null ? null : parseMemorySize(disk),
    runtime: input.runtime ?? config.allowedRuntimes[0],
    network: input.network ?? 'bridge',
    env: { ...(input.env ?? {}) },
    labels: { ...(input.labels ?? {}) },
    ports: [...new Set(input.ports ?? [])].sort((a, b) => a - b),
    command: input.command ?? null,
    entrypoint: input.entrypoint ?? null,
    idleTimeoutSeconds: input.idleTimeoutSeconds ?? config.defaultIdleTimeoutSeconds,
    maxLifetimeSeconds: input.maxLifetimeSeconds ?? null,
    autoDeleteSeconds: input.autoDeleteSeconds ?? null,
  };
}

/**
 * A stable hash of the request body, for Idempotency-Key checks: the same logical request (whatever
 * the key order) has the same fingerprint.
 */
export function fingerprintOf(input: CreateSandboxInput): string {
  return createHash('sha256').update(canonicalJson(input)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
