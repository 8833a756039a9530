/**
 * The shape of a sandbox as the service reports it, and the vocabulary shared by the libraries.
 * Declared here (the lowest library that needs it) so imports stay one-way: meta-store stores it,
 * sandbox produces it, the API renders it.
 */
export const SANDBOX_STATES = ['pending', 'running', 'stopped', 'deleted'] as const;
export type SandboxState = (typeof SANDBOX_STATES)[number];

/** States whose sandboxes are "live" and kept in the hot cache. */
export const LIVE_STATES: readonly SandboxState[] = ['pending', 'running'];

export const SANDBOX_OPERATIONS = ['starting', 'stopping', 'deleting'] as const;
export type SandboxOperation = (typeof SANDBOX_OPERATIONS)[number];

export interface StateTransitionRecord {
  from: SandboxState;
  to: SandboxState;
  /** The command or outcome that caused it: create, started, failed, stop, restart, delete, … */
  event: string;
  at: string;
  reason?: string;
}

/** Everything a sandbox is; the allowlist of what may reach the cache and the API. */
export interface SandboxInfo {
  id: string;
  name: string | null;
  state: SandboxState;
  operation: SandboxOperation | null;
  image: string;
  cpus: number | null;
  /** Memory limit in bytes, or null for none. */
  memoryBytes: number | null;
  /** Names of the environment variables; their values are never echoed. */
  envKeys: string[];
  labels: Record<string, string>;
  /** Container port → published host port. */
  ports: Record<string, number>;
  host: string | null;
  containerId: string | null;
  /** The service instance (INSTANCE_ID) that created the sandbox. */
  instanceId: string;
  idleTimeoutSeconds: number;
  autoDeleteSeconds: number | null;
  createdAt: string;
  startedAt: string | null;
  stoppedAt: string | null;
  deletedAt: string | null;
  failureReason: string | null;
  stateHistory: StateTransitionRecord[];
}

/**
 * The keys of SandboxInfo as a runtime list. The mapped type makes the compiler reject this object
 * whenever a field is added to or removed from SandboxInfo, so the allowlist cannot drift from the
 * type: a DB-only field (spec, machine snapshot) can never slip into the cache or a response.
 */
const SANDBOX_INFO_KEYS: { readonly [K in keyof SandboxInfo]-?: true } = {
  id: true,
  name: true,
  state: true,
  operation: true,
  image: true,
  cpus: true,
  memoryBytes: true,
  envKeys: true,
  labels: true,
  ports: true,
  host: true,
  containerId: true,
  instanceId: true,
  idleTimeoutSeconds: true,
  autoDeleteSeconds: true,
  createdAt: true,
  startedAt: true,
  stoppedAt: true,
  deletedAt: true,
  failureReason: true,
  stateHistory: true,
};

export const SANDBOX_INFO_FIELDS = Object.freeze(
  Object.keys(SANDBOX_INFO_KEYS) as (keyof SandboxInfo)[],
);

/** Keeps only the keys declared in SandboxInfo (the seed's pick_sandbox_info_fields). */
export function pickSandboxInfoFields(source: object): Partial<SandboxInfo> {
  const picked: Record<string, unknown> = {};
  for (const key of SANDBOX_INFO_FIELDS) {
    if (Object.prototype.hasOwnProperty.call(source, key)) {
      picked[key] = (source as Record<string, unknown>)[key];
    }
  }
  return picked;
}

/**
 * What the caller asked for at create, stored once (DB only, never cached or returned). Restart and
 * recovery rebuild the exact same container from it.
 */
export interface SandboxSpec {
  image: string;
  cpus: number | null;
  memoryBytes: number | null;
  env: Record<string, string>;
  labels: Record<string, string>;
  ports: number[];
  command: string[] | null;
  entrypoint: string[] | null;
  idleTimeoutSeconds: number;
  autoDeleteSeconds: number | null;
}

/** A durable record: the public info plus DB-only fields, with an optimistic-lock version. */
export interface SandboxRecord {
  info: SandboxInfo;
  spec: SandboxSpec;
  /** The state machine's persisted snapshot (JSON), owned by the sandbox library. */
  machineSnapshot: unknown;
  machineVersion: string;
  version: number;
}
