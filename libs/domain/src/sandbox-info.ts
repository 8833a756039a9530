import type { Actor } from './actor';

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

/**
 * What a sandbox's container is attached to. `bridge`: sandboxd's own bridge network
 * (SANDBOX_NETWORK), on which sandboxes reach the outside world and published ports work but
 * cannot reach each other (inter-container traffic is off). `none`: no network at all, only `lo`.
 */
export const SANDBOX_NETWORKS = ['bridge', 'none'] as const;
export type SandboxNetwork = (typeof SANDBOX_NETWORKS)[number];

export interface StateTransitionRecord {
  from: SandboxState;
  to: SandboxState;
  /** The command or outcome that caused it: create, started, failed, stop, restart, delete, … */
  event: string;
  at: string;
  reason?: string;
  /** Who caused it; absent on entries written before actors were recorded. */
  actor?: Actor;
}

/** The disk limit asked for at create, and whether the storage driver could enforce it. */
export interface SandboxDiskLimit {
  /** As the caller wrote it, e.g. "10g", so it reads back the way it was asked. */
  requested: string;
  requestedBytes: number;
  /** False when the storage driver has no per-container quota (e.g. overlay2 without xfs pquota). */
  enforced: boolean;
  /** Why it is not enforced; null when it is. */
  reason: string | null;
}

/** The outcome of putting the sandbox's log directory under a filesystem project quota. */
export interface SandboxLogDirQuota {
  /** True when the log directory shares the daemon's quota instead of having its own. */
  shared: boolean;
  /** The filesystem project id of the quota; null when none was assigned. */
  projectId: number | null;
  /** Why no own quota could be set; null when it was. */
  reason: string | null;
}

/** Everything a sandbox is; the allowlist of what may reach the cache and the API. */
export interface SandboxInfo {
  id: string;
  /**
   * Unique among the non-deleted sandboxes of its tenant (tenant-less sandboxes are one more
   * namespace): two tenants may each have a sandbox of the same name.
   */
  name: string | null;
  /**
   * The tenant whose API key created it; null for sandboxes made by the admin key or while auth is
   * off. A tenant key sees only its own tenant's sandboxes. Never changes after the create.
   */
  tenant: string | null;
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
  /**
   * The Docker Swarm node (its node id) whose engine holds the container, with CLUSTER=swarm; null
   * on a single host. Chosen by placement at the create, and never changes.
   */
  node: string | null;
  idleTimeoutSeconds: number;
  autoDeleteSeconds: number | null;
  createdAt: string;
  startedAt: string | null;
  stoppedAt: string | null;
  deletedAt: string | null;
  failureReason: string | null;
  stateHistory: StateTransitionRecord[];
  /**
   * ISO instant at which the idle timeout or the max lifetime (whichever comes first) stops a live
   * sandbox; null when neither applies or the sandbox is not live. Mirrored in the `auto_stop_at`
   * column and in the key-value store's deadline index.
   */
  autoStopAt: string | null;
  /** ISO instant at which a stopped sandbox is deleted; set when it stops, null otherwise. */
  autoDeleteAt: string | null;
  /** A protected sandbox is never auto-deleted. */
  protected: boolean;
  /** Hard cap on how long the sandbox may run, whatever its activity; null for none. */
  maxLifetimeSeconds: number | null;
  /** ISO instant of the last activity that counts against the idle timeout; null before any. */
  lastActivityAt: string | null;
  /** Cap on the number of processes in the container; null for the daemon's default. */
  pidsLimit: number | null;
  /** The OCI runtime the container runs under (runc, runsc, …). */
  runtime: string;
  /** The network the container is attached to (see SANDBOX_NETWORKS). */
  network: SandboxNetwork;
  /** Null when no disk limit was asked for. */
  disk: SandboxDiskLimit | null;
  /** Null until a quota on the log directory has been attempted. */
  logDirQuota: SandboxLogDirQuota | null;
  /** True when the create took a ready container from the warm pool (WARM_POOL). */
  fromPool: boolean;
}

/**
 * The keys of SandboxInfo as a runtime list. The mapped type makes the compiler reject this object
 * whenever a field is added to or removed from SandboxInfo, so the allowlist cannot drift from the
 * type: a DB-only field (spec, machine snapshot) can never slip into the cache or a response.
 */
const SANDBOX_INFO_KEYS: { readonly [K in keyof SandboxInfo]-?: true } = {
  id: true,
  name: true,
  tenant: true,
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
  node: true,
  idleTimeoutSeconds: true,
  autoDeleteSeconds: true,
  createdAt: true,
  startedAt: true,
  stoppedAt: true,
  deletedAt: true,
  failureReason: true,
  stateHistory: true,
  autoStopAt: true,
  autoDeleteAt: true,
  protected: true,
  maxLifetimeSeconds: true,
  lastActivityAt: true,
  pidsLimit: true,
  runtime: true,
  network: true,
  disk: true,
  logDirQuota: true,
  fromPool: true,
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

/** A SandboxInfo with any other key (a DB-only field a caller spread in) left out. */
export function pickSandboxInfo(info: SandboxInfo): SandboxInfo {
  return pickSandboxInfoFields(info) as SandboxInfo;
}

/**
 * What the caller asked for at create (DB only, never cached or returned). Restart and recovery
 * rebuild the exact same container from it. `env` holds the values in clear: a record holds a
 * SealedSandboxSpec instead.
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
  /** Null for none. */
  maxLifetimeSeconds: number | null;
  /** Null for the daemon's default. */
  pidsLimit: number | null;
  /** The disk limit in bytes (parsed from `disk`), or null for none. */
  diskBytes: number | null;
  /** The disk limit as the caller wrote it (e.g. "10g"), or null for none. */
  disk: string | null;
  /** The OCI runtime the container is created with. */
  runtime: string;
  /** Fixed at create: a container's network mode cannot change afterwards. */
  network: SandboxNetwork;
}

/**
 * The spec as a record holds it: each env value sealed (see SecretsKeyring), under the variable's
 * name. Another field than `env`, so code that needs the values cannot use a record's spec without
 * opening them (SecretsKeyring.openSpec); a deleted sandbox's record keeps none (`{}`).
 */
export type SealedSandboxSpec = Omit<SandboxSpec, 'env'> & {
  sealedEnv: Readonly<Record<string, string>>;
};

/** A durable record: the public info plus DB-only fields, with an optimistic-lock version. */
export interface SandboxRecord {
  info: SandboxInfo;
  spec: SealedSandboxSpec;
  /** The state machine's persisted snapshot (JSON), owned by the sandbox library. */
  machineSnapshot: unknown;
  machineVersion: string;
  version: number;
}
