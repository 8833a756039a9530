import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { EnvDto } from './env.dto';
import { SecretsKey } from './secrets-key';
import { parseWarmPool, WarmPoolEntry } from './warm-pool-config';

export type LogLevel = NonNullable<EnvDto['LOG_LEVEL']>;

/** The validated, typed configuration every module injects. Built once from the environment. */
export class AppConfig {
  readonly host: string;
  readonly port: number;
  readonly databaseUrl: string | undefined;
  readonly sqlitePath: string;
  /** Key of the env values at rest; null: generated next to SQLite (refused with PostgreSQL). */
  readonly secretsKey: SecretsKey | null;
  readonly redisUrl: string | undefined;
  readonly redisKeyPrefix: string;
  readonly dockerSocketPath: string;
  readonly instanceId: string;
  readonly portRange: { readonly from: number; readonly to: number };
  readonly portBindAddress: string;
  readonly keepAliveCommand: readonly string[];
  readonly stopTimeoutSeconds: number;
  readonly waitTimeoutSeconds: number;
  readonly imagePullTimeoutSeconds: number;
  /**
   * Longest one Docker engine call of each kind may take, in ms; stop's is on top of the stop's
   * own grace period (STOP_TIMEOUT_SECONDS or the call's), so a stop is never cut short.
   */
  readonly dockerCallTimeoutsMs: {
    readonly create: number;
    readonly start: number;
    readonly stop: number;
    readonly remove: number;
    readonly inspect: number;
    readonly execStart: number;
  };
  readonly lockTtlMs: number;
  readonly lockWaitMs: number;
  readonly defaultIdleTimeoutSeconds: number;
  readonly autoDeleteAfterSeconds: number;
  readonly activityIncludesReads: boolean;
  readonly startupTimeoutSeconds: number;
  readonly schedulerEnabled: boolean;
  readonly schedulerIntervalSeconds: number;
  readonly dockerEvents: boolean;
  readonly defaultCpus: number | null;
  readonly defaultMemory: string | null;
  readonly defaultPidsLimit: number | null;
  readonly defaultDisk: string | null;
  readonly maxCpus: number | null;
  readonly maxMemory: string | null;
  readonly maxDisk: string | null;
  readonly overcommitCpu: number;
  readonly overcommitMemory: number;
  readonly diskLimitPolicy: 'reject' | 'warn';
  readonly logRoot: string;
  readonly logMountPath: string;
  readonly allowedRuntimes: readonly string[];
  /** Registries on non-public addresses that images may still be pulled from (`*`: any). */
  readonly registryAllowlist: readonly string[];
  readonly execOutputLimitBytes: number;
  /** Bytes of buffered exec output all requests together may hold at once (then 503). */
  readonly execOutputBudgetBytes: number;
  readonly execDefaultTimeoutSeconds: number;
  readonly execMaxTimeoutSeconds: number;
  readonly fileSizeLimitBytes: number;
  readonly reconcileIntervalSeconds: number;
  readonly orphanGraceSeconds: number;
  readonly schedulerBatchSize: number;
  readonly schedulerConcurrency: number;
  readonly warmPool: readonly WarmPoolEntry[];
  readonly warmPoolRemoveOnShutdown: boolean;
  readonly logLevel: LogLevel;

  constructor(env: EnvDto) {
    this.host = env.HOST ?? '127.0.0.1';
    this.port = env.PORT ?? 8080;
    this.databaseUrl = env.DATABASE_URL;
    this.sqlitePath = env.SQLITE_PATH ?? join('data', 'sandboxd.sqlite');
    this.secretsKey = env.SECRETS_KEY === undefined ? null : SecretsKey.parse(env.SECRETS_KEY);
    this.redisUrl = env.REDIS_URL;
    this.redisKeyPrefix = env.REDIS_KEY_PREFIX ?? 'sandboxd:';
    this.dockerSocketPath = env.DOCKER_SOCKET_PATH ?? '/var/run/docker.sock';
    this.instanceId = env.INSTANCE_ID ?? sanitizeInstanceId(hostname());
    this.portRange = parsePortRange(env.PORT_RANGE ?? '30000-39999');
    this.portBindAddress = env.PORT_BIND_ADDRESS ?? '127.0.0.1';
    this.keepAliveCommand = parseArgv(env.KEEPALIVE_COMMAND ?? 'sleep infinity');
    this.stopTimeoutSeconds = env.STOP_TIMEOUT_SECONDS ?? 10;
    this.waitTimeoutSeconds = env.WAIT_TIMEOUT_SECONDS ?? 120;
    this.imagePullTimeoutSeconds = env.IMAGE_PULL_TIMEOUT_SECONDS ?? 300;
    this.dockerCallTimeoutsMs = {
      create: (env.DOCKER_CREATE_TIMEOUT_SECONDS ?? 120) * 1000,
      start: (env.DOCKER_START_TIMEOUT_SECONDS ?? 120) * 1000,
      stop: (env.DOCKER_STOP_TIMEOUT_SECONDS ?? 30) * 1000,
      remove: (env.DOCKER_REMOVE_TIMEOUT_SECONDS ?? 120) * 1000,
      inspect: (env.DOCKER_INSPECT_TIMEOUT_SECONDS ?? 30) * 1000,
      execStart: (env.DOCKER_EXEC_START_TIMEOUT_SECONDS ?? 30) * 1000,
    };
    this.lockTtlMs = (env.LOCK_TTL_SECONDS ?? 30) * 1000;
    this.lockWaitMs = (env.LOCK_WAIT_SECONDS ?? 60) * 1000;
    this.defaultIdleTimeoutSeconds = env.DEFAULT_IDLE_TIMEOUT_SECONDS ?? 1800;
    this.autoDeleteAfterSeconds = env.AUTO_DELETE_AFTER_SECONDS ?? 86400;
    this.activityIncludesReads = env.ACTIVITY_INCLUDES_READS === 'true';
    this.startupTimeoutSeconds = env.STARTUP_TIMEOUT_SECONDS ?? 300;
    this.schedulerEnabled = env.SCHEDULER_ENABLED !== 'false';
    this.schedulerIntervalSeconds = env.SCHEDULER_INTERVAL_SECONDS ?? 10;
    this.dockerEvents = env.DOCKER_EVENTS !== 'false';
    this.defaultCpus = env.DEFAULT_CPUS ?? 1;
    this.defaultMemory = env.DEFAULT_MEMORY ?? '1g';
    // -1 asks for no pids limit at all, as Docker spells it.
    this.defaultPidsLimit = env.DEFAULT_PIDS_LIMIT === -1 ? null : (env.DEFAULT_PIDS_LIMIT ?? 1024);
    this.defaultDisk = env.DEFAULT_DISK ?? null;
    this.maxCpus = env.MAX_CPUS ?? null;
    this.maxMemory = env.MAX_MEMORY ?? null;
    this.maxDisk = env.MAX_DISK ?? null;
    this.overcommitCpu = env.OVERCOMMIT_CPU ?? 4;
    this.overcommitMemory = env.OVERCOMMIT_MEMORY ?? 1.5;
    this.diskLimitPolicy = env.DISK_LIMIT_POLICY ?? 'warn';
    this.logRoot = env.LOG_ROOT ?? resolve('data', 'logs');
    this.logMountPath = env.LOG_MOUNT_PATH ?? '/data/logs';
    this.allowedRuntimes = (env.ALLOWED_RUNTIMES ?? 'runc').split(',');
    this.registryAllowlist = env.REGISTRY_ALLOWLIST ? env.REGISTRY_ALLOWLIST.split(',') : [];
    this.execOutputLimitBytes = env.EXEC_OUTPUT_LIMIT ?? 10 * 1024 * 1024;
    this.execOutputBudgetBytes = env.EXEC_OUTPUT_BUDGET ?? 256 * 1024 * 1024;
    this.execDefaultTimeoutSeconds = env.EXEC_DEFAULT_TIMEOUT_SECONDS ?? 60;
    this.execMaxTimeoutSeconds = env.EXEC_MAX_TIMEOUT_SECONDS ?? 3600;
    this.fileSizeLimitBytes = env.FILE_SIZE_LIMIT ?? 100 * 1024 * 1024;
    this.reconcileIntervalSeconds = env.RECONCILE_INTERVAL_SECONDS ?? 60;
    this.orphanGraceSeconds = env.ORPHAN_GRACE_SECONDS ?? 60;
    this.schedulerBatchSize = env.SCHEDULER_BATCH_SIZE ?? 100;
    this.schedulerConcurrency = env.SCHEDULER_CONCURRENCY ?? 4;
    this.warmPool = parseWarmPool(env.WARM_POOL ?? '');
    this.warmPoolRemoveOnShutdown = env.WARM_POOL_REMOVE_ON_SHUTDOWN !== 'false';
    this.logLevel = env.LOG_LEVEL ?? 'log';
  }
}

/** Validates raw environment variables; throws one error listing every bad variable. */
export function validateEnv(raw: Record<string, unknown>): EnvDto {
  const dto = plainToInstance(EnvDto, raw, { enableImplicitConversion: false });
  const errors = validateSync(dto, { whitelist: false });
  if (errors.length > 0) {
    const problems = errors.flatMap((e) => Object.values(e.constraints ?? {}));
    throw new Error(`Invalid environment: ${problems.join('; ')}`);
  }
  // Cross-field rule that class-validator cannot express on one property.
  if (dto.PORT_RANGE !== undefined) parsePortRange(dto.PORT_RANGE);
  return dto;
}

/** Builds the configuration from an environment (process.env, or a test's overrides). */
export function loadConfig(raw: Record<string, unknown> = process.env): AppConfig {
  return new AppConfig(validateEnv(raw));
}

function parsePortRange(text: string): { from: number; to: number } {
  const [from, to] = text.split('-').map(Number);
  if (!(from >= 1 && to <= 65535 && from <= to)) {
    throw new Error(`Invalid environment: PORT_RANGE ${text} must be 1-65535 with from <= to`);
  }
  return { from, to };
}

/** Accepts a JSON array (`["sleep","infinity"]`) or a plain space-separated command line. */
function parseArgv(text: string): string[] {
  if (text.trim().startsWith('[')) {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed) && parsed.length > 0 && parsed.every((a) => typeof a === 'string')) {
      return parsed;
    }
    throw new Error('Invalid environment: KEEPALIVE_COMMAND must be a non-empty JSON string array');
  }
  return text.trim().split(/\s+/);
}

function sanitizeInstanceId(name: string): string {
  return name.replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 63) || 'sandboxd';
}
