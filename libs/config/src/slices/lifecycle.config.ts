import 'reflect-metadata';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { Default } from '../env/env-default';
import { emptyToUndefined } from '../env/env-rules';
import { defineSlice } from '../env/slice';

export class LifecycleEnv {
  @Default(86400)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(-1)
  AUTO_DELETE_AFTER_SECONDS!: number;
  @Default('false')
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['true', 'false'], { message: 'ACTIVITY_INCLUDES_READS must be true or false' })
  ACTIVITY_INCLUDES_READS!: 'true' | 'false';
  @Default(300)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(86400)
  STARTUP_TIMEOUT_SECONDS!: number;
  @Default(120)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(3600)
  WAIT_TIMEOUT_SECONDS!: number;
}

/** The deadlines of a sandbox's life and of waiting for it (read by libs/sandbox and the edge). */
export class LifecycleConfig {
  /** Delay from stop to delete of a sandbox without its own (-1 never, 0 at once). */
  readonly autoDeleteAfterSeconds: number;
  /** Whether a read of a sandbox counts as activity. */
  readonly activityIncludesReads: boolean;
  readonly startupTimeoutSeconds: number;
  /** Longest a `?wait=true` create waits. */
  readonly waitTimeoutSeconds: number;

  constructor(env: LifecycleEnv) {
    this.autoDeleteAfterSeconds = env.AUTO_DELETE_AFTER_SECONDS;
    this.activityIncludesReads = env.ACTIVITY_INCLUDES_READS === 'true';
    this.startupTimeoutSeconds = env.STARTUP_TIMEOUT_SECONDS;
    this.waitTimeoutSeconds = env.WAIT_TIMEOUT_SECONDS;
  }
}

export const LIFECYCLE_SLICE = defineSlice(LifecycleEnv, LifecycleConfig);
