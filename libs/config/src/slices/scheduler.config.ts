import 'reflect-metadata';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { Default } from '../env/env-default';
import { emptyToUndefined } from '../env/env-rules';
import { defineSlice } from '../env/slice';

export class SchedulerEnv {
  @Default('true')
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['true', 'false'], { message: 'SCHEDULER_ENABLED must be true or false' })
  SCHEDULER_ENABLED!: 'true' | 'false';
  @Default(10)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(86400)
  SCHEDULER_INTERVAL_SECONDS!: number;
  @Default(60)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(86400)
  RECONCILE_INTERVAL_SECONDS!: number;
  @Default('true')
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['true', 'false'], { message: 'DOCKER_EVENTS must be true or false' })
  DOCKER_EVENTS!: 'true' | 'false';
  @Default(60)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(86400)
  ORPHAN_GRACE_SECONDS!: number;
  @Default(100)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10000)
  SCHEDULER_BATCH_SIZE!: number;
  @Default(4)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(64)
  SCHEDULER_CONCURRENCY!: number;
}

/** The background jobs: deadline scans, the reconciler and Docker events (libs/scheduler, sandbox). */
export class SchedulerConfig {
  readonly enabled: boolean;
  /** How often due auto-stops and auto-deletes are looked for. */
  readonly intervalSeconds: number;
  readonly reconcileIntervalSeconds: number;
  readonly dockerEvents: boolean;
  /** Age an unrecorded container of ours must reach before the reconciler removes it. */
  readonly orphanGraceSeconds: number;
  /** Due sandboxes taken per scan. */
  readonly batchSize: number;
  /** Sandboxes handled at once within a scan or a reconcile. */
  readonly concurrency: number;

  constructor(env: SchedulerEnv) {
    this.enabled = env.SCHEDULER_ENABLED === 'true';
    this.intervalSeconds = env.SCHEDULER_INTERVAL_SECONDS;
    this.reconcileIntervalSeconds = env.RECONCILE_INTERVAL_SECONDS;
    this.dockerEvents = env.DOCKER_EVENTS === 'true';
    this.orphanGraceSeconds = env.ORPHAN_GRACE_SECONDS;
    this.batchSize = env.SCHEDULER_BATCH_SIZE;
    this.concurrency = env.SCHEDULER_CONCURRENCY;
  }
}

export const SCHEDULER_SLICE = defineSlice(SchedulerEnv, SchedulerConfig);
