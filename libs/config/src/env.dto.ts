import 'reflect-metadata';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, MinLength } from 'class-validator';

/** Docker-style sizes: 512m, 2g, 1.5GiB, or bytes. */
const SIZE = /^\d+(\.\d+)?\s*[bkmgt]?(i?b)?$/i;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;

/** Trims and turns an empty string into "unset", so `FOO=` in a shell means the default. */
const emptyToUndefined = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/**
 * The environment the service reads, validated once at start-up. Every variable is listed in the
 * README's configuration table; a wrong value stops the process with a message naming it.
 */
export class EnvDto {
  @IsOptional() @IsString() @Transform(emptyToUndefined) HOST?: string;
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(65535) PORT?: number;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^postgres(ql)?:\/\//, {
    message: 'DATABASE_URL must be a postgres:// URL',
  })
  DATABASE_URL?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() @MinLength(1) SQLITE_PATH?: string;
  /** Parsed (and its format checked) by AppConfig through SecretsKey, which never echoes it. */
  @IsOptional() @Transform(emptyToUndefined) @IsString() SECRETS_KEY?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^rediss?:\/\//, {
    message: 'REDIS_URL must be a redis:// or rediss:// URL',
  })
  REDIS_URL?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() REDIS_KEY_PREFIX?: string;

  @IsOptional() @Transform(emptyToUndefined) @IsString() DOCKER_SOCKET_PATH?: string;
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[a-zA-Z0-9_.-]{1,63}$/, {
    message: 'INSTANCE_ID must be 1-63 characters of letters, digits, _ . -',
  })
  INSTANCE_ID?: string;
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^\d{1,5}-\d{1,5}$/, {
    message: 'PORT_RANGE must look like 30000-39999',
  })
  PORT_RANGE?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() PORT_BIND_ADDRESS?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() @MinLength(1) KEEPALIVE_COMMAND?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(3600) STOP_TIMEOUT_SECONDS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(3600) WAIT_TIMEOUT_SECONDS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(3600) IMAGE_PULL_TIMEOUT_SECONDS?: number;
  // Bounds of single Docker engine calls (engine-bounds.ts); STOP is on top of STOP_TIMEOUT_SECONDS.
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(3600)
  DOCKER_CREATE_TIMEOUT_SECONDS?: number;
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(3600)
  DOCKER_START_TIMEOUT_SECONDS?: number;
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(3600)
  DOCKER_STOP_TIMEOUT_SECONDS?: number;
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(3600)
  DOCKER_REMOVE_TIMEOUT_SECONDS?: number;
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(3600)
  DOCKER_INSPECT_TIMEOUT_SECONDS?: number;
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(3600)
  DOCKER_EXEC_START_TIMEOUT_SECONDS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(2) @Max(600) LOCK_TTL_SECONDS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(3600) LOCK_WAIT_SECONDS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) DEFAULT_IDLE_TIMEOUT_SECONDS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(-1) AUTO_DELETE_AFTER_SECONDS?: number;
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['true', 'false'], {
    message: 'ACTIVITY_INCLUDES_READS must be true or false',
  })
  ACTIVITY_INCLUDES_READS?: 'true' | 'false';
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(86400) STARTUP_TIMEOUT_SECONDS?: number;
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['true', 'false'], {
    message: 'SCHEDULER_ENABLED must be true or false',
  })
  SCHEDULER_ENABLED?: 'true' | 'false';
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(86400)
  SCHEDULER_INTERVAL_SECONDS?: number;
  @IsOptional() @Type(() => Number) @Min(0.01) @Max(1024) DEFAULT_CPUS?: number;
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(SIZE, { message: 'DEFAULT_MEMORY must be a size such as 1g' })
  DEFAULT_MEMORY?: string;
  @IsOptional() @Type(() => Number) @IsInt() @Min(-1) DEFAULT_PIDS_LIMIT?: number;
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(SIZE, { message: 'DEFAULT_DISK must be a size such as 10g' })
  DEFAULT_DISK?: string;
  @IsOptional() @Type(() => Number) @Min(0.01) @Max(1024) MAX_CPUS?: number;
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(SIZE, { message: 'MAX_MEMORY must be a size such as 64g' })
  MAX_MEMORY?: string;
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(SIZE, { message: 'MAX_DISK must be a size such as 256g' })
  MAX_DISK?: string;
  @IsOptional() @Type(() => Number) @Min(0.01) @Max(1000) OVERCOMMIT_CPU?: number;
  @IsOptional() @Type(() => Number) @Min(0.01) @Max(1000) OVERCOMMIT_MEMORY?: number;
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['reject', 'warn'], {
    message: 'DISK_LIMIT_POLICY must be reject or warn',
  })
  DISK_LIMIT_POLICY?: 'reject' | 'warn';
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^\//, { message: 'LOG_ROOT must be an absolute path' })
  LOG_ROOT?: string;
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^\//, { message: 'LOG_MOUNT_PATH must be an absolute path' })
  LOG_MOUNT_PATH?: string;
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[a-zA-Z0-9_.-]+(,[a-zA-Z0-9_.-]+)*$/, {
    message: 'ALLOWED_RUNTIMES must be a comma-separated list of runtime names',
  })
  ALLOWED_RUNTIMES?: string;
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^(\*|[A-Za-z0-9_.:[\]/-]+)(,(\*|[A-Za-z0-9_.:[\]/-]+))*$/, {
    message:
      'REGISTRY_ALLOWLIST must be a comma-separated list of registry hosts, host:port, CIDRs or *',
  })
  REGISTRY_ALLOWLIST?: string;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1024) EXEC_OUTPUT_LIMIT?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(65536) EXEC_OUTPUT_BUDGET?: number;
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(86400)
  EXEC_DEFAULT_TIMEOUT_SECONDS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(604800) EXEC_MAX_TIMEOUT_SECONDS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) FILE_SIZE_LIMIT?: number;
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['true', 'false'], { message: 'DOCKER_EVENTS must be true or false' })
  DOCKER_EVENTS?: 'true' | 'false';
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(86400)
  RECONCILE_INTERVAL_SECONDS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(86400) ORPHAN_GRACE_SECONDS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(10000) SCHEDULER_BATCH_SIZE?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(64) SCHEDULER_CONCURRENCY?: number;

  @IsOptional() @Transform(emptyToUndefined) @IsString() WARM_POOL?: string;
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['true', 'false'], {
    message: 'WARM_POOL_REMOVE_ON_SHUTDOWN must be true or false',
  })
  WARM_POOL_REMOVE_ON_SHUTDOWN?: 'true' | 'false';

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(LOG_LEVELS)
  LOG_LEVEL?: (typeof LOG_LEVELS)[number];
}
