import 'reflect-metadata';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { Default } from '../env/env-default';
import { emptyToUndefined, SIZE } from '../env/env-rules';
import { defineSlice } from '../env/slice';

export class ResourcesEnv {
  @Default(1) @IsOptional() @Type(() => Number) @Min(0.01) @Max(1024) DEFAULT_CPUS!: number;
  @Default('1g')
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(SIZE, { message: 'DEFAULT_MEMORY must be a size such as 1g' })
  DEFAULT_MEMORY!: string;
  /** -1 asks for no pids limit at all, as Docker spells it. */
  @Default(1024) @IsOptional() @Type(() => Number) @IsInt() @Min(-1) DEFAULT_PIDS_LIMIT!: number;
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
  @Default(4) @IsOptional() @Type(() => Number) @Min(0.01) @Max(1000) OVERCOMMIT_CPU!: number;
  @Default(1.5) @IsOptional() @Type(() => Number) @Min(0.01) @Max(1000) OVERCOMMIT_MEMORY!: number;
  @Default('warn')
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['reject', 'warn'], { message: 'DISK_LIMIT_POLICY must be reject or warn' })
  DISK_LIMIT_POLICY!: 'reject' | 'warn';
  @Default(1800)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  DEFAULT_IDLE_TIMEOUT_SECONDS!: number;
  @Default('runc')
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[a-zA-Z0-9_.-]+(,[a-zA-Z0-9_.-]+)*$/, {
    message: 'ALLOWED_RUNTIMES must be a comma-separated list of runtime names',
  })
  ALLOWED_RUNTIMES!: string;
}

/**
 * What a create gets when it asks for nothing (toSandboxSpec), what it may ask for and what fits
 * the host (SandboxResources).
 */
export class ResourcesConfig {
  readonly defaultCpus: number | null;
  readonly defaultMemory: string | null;
  /** null: no pids limit. */
  readonly defaultPidsLimit: number | null;
  readonly defaultDisk: string | null;
  readonly maxCpus: number | null;
  readonly maxMemory: string | null;
  readonly maxDisk: string | null;
  readonly overcommitCpu: number;
  readonly overcommitMemory: number;
  readonly diskLimitPolicy: 'reject' | 'warn';
  /** Idle timeout of a create that gives none (0: never). */
  readonly defaultIdleTimeoutSeconds: number;
  /** OCI runtimes a create may ask for; the first is the default. */
  readonly allowedRuntimes: readonly string[];

  constructor(env: ResourcesEnv) {
    this.defaultCpus = env.DEFAULT_CPUS;
    this.defaultMemory = env.DEFAULT_MEMORY;
    this.defaultPidsLimit = env.DEFAULT_PIDS_LIMIT === -1 ? null : env.DEFAULT_PIDS_LIMIT;
    this.defaultDisk = env.DEFAULT_DISK ?? null;
    this.maxCpus = env.MAX_CPUS ?? null;
    this.maxMemory = env.MAX_MEMORY ?? null;
    this.maxDisk = env.MAX_DISK ?? null;
    this.overcommitCpu = env.OVERCOMMIT_CPU;
    this.overcommitMemory = env.OVERCOMMIT_MEMORY;
    this.diskLimitPolicy = env.DISK_LIMIT_POLICY;
    this.defaultIdleTimeoutSeconds = env.DEFAULT_IDLE_TIMEOUT_SECONDS;
    this.allowedRuntimes = env.ALLOWED_RUNTIMES.split(',');
  }
}

export const RESOURCES_SLICE = defineSlice(ResourcesEnv, ResourcesConfig);
