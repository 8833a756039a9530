import type { SandboxNetwork } from '@app/domain';

/** What the sandbox layer asks for; deployment turns it into one Docker container. */
export interface ContainerSpec {
  sandboxId: string;
  image: string;
  /** Fractional CPUs (0.5 = half a core); null = no limit. */
  cpus: number | null;
  /** Hard memory limit; swap is capped at the same value. null = no limit. */
  memoryBytes: number | null;
  env: Record<string, string>;
  /** User labels; must not use the `io.sandboxd.` prefix (checked upstream). */
  labels: Record<string, string>;
  /** Container TCP ports to publish on host ports chosen by the allocator. */
  ports: number[];
  /** null with a null entrypoint = keep-alive command; otherwise passed as Cmd. */
  command: string[] | null;
  entrypoint: string[] | null;
  /** Most processes (and threads) the sandbox may run; null or absent = Docker's default. */
  pidsLimit?: number | null;
  /**
   * Writable-layer size (`--storage-opt size=`); only set by the caller when the engine's storage
   * enforces it, since Docker refuses the option otherwise.
   */
  storageBytes?: number | null;
  /** A host directory bind-mounted read-write (the sandbox's log directory). */
  logMount?: { hostPath: string; containerPath: string } | null;
  /** OCI runtime (runc, kata, …); null or absent = the engine's default. */
  runtime?: string | null;
  /** Marks a warm-pool member: the pool's key, put on the container as LABEL_POOL. */
  poolKey?: string | null;
  /** `bridge` (absent): sandboxd's own network (SANDBOX_NETWORK); `none`: no network, only lo. */
  network?: SandboxNetwork;
}

/** The engine's view of one container, flattened to what the service needs. */
export interface ContainerState {
  containerId: string;
  name: string;
  running: boolean;
  /** Docker's State.Status: created, running, paused, restarting, removing, exited, dead. */
  status: string;
  exitCode: number | null;
  oomKilled: boolean;
  /**
   * When the engine created the container (Docker's `Created`). Lets a reconciler tell a container
   * that is still being provisioned from one left over long ago. Always set by this library; it is
   * optional only so that hand-built states (test fakes in other libraries) still type-check.
   */
  createdAt?: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** Container TCP port (as a string, e.g. "8080") → host port. */
  ports: Record<string, number>;
  /** Address the host ports are bound on. */
  host: string;
  labels: Record<string, string>;
  sandboxId: string | null;
  instanceId: string | null;
  /** The warm pool the container was made for (LABEL_POOL), idle or claimed; null otherwise. */
  poolKey?: string | null;
  /**
   * Docker's HostConfig.NetworkMode: `none`, a network's id or name, or `default`/`bridge` for a
   * container of a release before sandbox networks. Optional like createdAt.
   */
  networkMode?: string | null;
  /**
   * The networks the container is attached to, name → id, also while it is stopped (the name is
   * what the engine keys them by, and what disconnects a network that no longer exists).
   */
  networks?: Record<string, string>;
}

/**
 * What a listing of our containers tells about each (`listOwned`): enough to judge drift and to
 * explain why a container is not running. A running container comes straight from the list
 * answer; only a container that is not running costs an inspect (its exit code, OOM kill and
 * finish time are not in the list).
 */
export type OwnedContainer = Pick<
  ContainerState,
  | 'containerId'
  | 'name'
  | 'running'
  | 'status'
  | 'exitCode'
  | 'oomKilled'
  | 'createdAt'
  | 'finishedAt'
  | 'labels'
  | 'sandboxId'
  | 'instanceId'
  | 'poolKey'
>;

export interface OwnedFilter {
  instanceId?: string;
  sandboxId?: string;
  /** Only containers made for a warm pool. */
  pooled?: boolean;
}

/** Runs after create and before start (the quota step); throwing aborts the provision. */
export type BeforeStartHook = (containerId: string) => Promise<void>;
