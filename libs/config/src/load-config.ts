import type { Provider } from '@nestjs/common';
import type { SliceDefinition } from './env/slice';
import { AUTH_SLICE, AuthConfig, accessProblems } from './slices/auth.config';
import { CLUSTER_SLICE, ClusterConfig, clusterProblems } from './slices/cluster.config';
import { DOCKER_SLICE } from './slices/docker.config';
import { E2B_SLICE } from './slices/e2b.config';
import { EVENTS_SLICE } from './slices/events.config';
import { EXEC_SLICE } from './slices/exec.config';
import { FILES_SLICE } from './slices/files.config';
import { LIFECYCLE_SLICE } from './slices/lifecycle.config';
import { LOCK_SLICE } from './slices/lock.config';
import { LOG_DIR_SLICE } from './slices/log-dir.config';
import { POOL_SLICE } from './slices/pool.config';
import { RESOURCES_SLICE } from './slices/resources.config';
import { SCHEDULER_SLICE } from './slices/scheduler.config';
import { SERVER_SLICE, ServerConfig } from './slices/server.config';
import { STORE_SLICE } from './slices/store.config';

/** Every slice of the configuration, by the name `loadConfig` gives it. */
export const CONFIG_SLICES = {
  server: SERVER_SLICE,
  store: STORE_SLICE,
  lock: LOCK_SLICE,
  docker: DOCKER_SLICE,
  lifecycle: LIFECYCLE_SLICE,
  resources: RESOURCES_SLICE,
  exec: EXEC_SLICE,
  files: FILES_SLICE,
  scheduler: SCHEDULER_SLICE,
  pool: POOL_SLICE,
  logDir: LOG_DIR_SLICE,
  e2b: E2B_SLICE,
  auth: AUTH_SLICE,
  events: EVENTS_SLICE,
  cluster: CLUSTER_SLICE,
} as const;

type Slices = typeof CONFIG_SLICES;

/** The whole configuration, one field per slice. Only the composition root and tests hold it. */
export type ConfigSlices = {
  readonly [K in keyof Slices]: Slices[K] extends SliceDefinition<infer C> ? C : never;
};

/**
 * Builds every slice from an environment (process.env, or a test's overrides). Validates all of
 * them before throwing, so one error lists every bad variable.
 */
export function loadConfig(raw: Record<string, unknown> = process.env): ConfigSlices {
  const problems: string[] = [];
  const built: Record<string, unknown> = {};
  for (const [name, slice] of Object.entries(CONFIG_SLICES)) {
    const result = (slice as SliceDefinition<unknown>).load(raw);
    if ('problems' in result) problems.push(...result.problems);
    else built[name] = result.config;
  }
  // Rules across slices, once each slice is valid on its own.
  if (problems.length === 0) {
    const { auth, server, cluster } = built as {
      auth: AuthConfig;
      server: ServerConfig;
      cluster: ClusterConfig;
    };
    problems.push(...accessProblems(auth, server.host), ...clusterProblems(cluster));
  }
  if (problems.length > 0) throw new Error(`Invalid environment: ${problems.join('; ')}`);
  return built as ConfigSlices;
}

/** Nest token of the loaded ConfigSlices; tests override it with `loadConfig(theirEnv)`. */
export const LOADED_CONFIG = 'sandboxd:loaded-config';

/** One provider per slice, each taken from the loaded configuration. */
export function sliceProviders(): Provider[] {
  return Object.entries(CONFIG_SLICES).map(([name, slice]) => ({
    provide: (slice as SliceDefinition<unknown>).token,
    inject: [LOADED_CONFIG],
    useFactory: (config: ConfigSlices): unknown => config[name as keyof ConfigSlices],
  }));
}

/** Providers of given slices as values, for a test that wires a module by hand. */
export function configProviders(config: ConfigSlices): Provider[] {
  return Object.entries(CONFIG_SLICES).map(([name, slice]) => ({
    provide: (slice as SliceDefinition<unknown>).token,
    useValue: config[name as keyof ConfigSlices],
  }));
}
