import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { Default } from '../env/env-default';
import { defineSlice } from '../env/slice';

export class ExecEnv {
  @Default(10 * 1024 * 1024)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  EXEC_OUTPUT_LIMIT!: number;
  @Default(256 * 1024 * 1024)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(65536)
  EXEC_OUTPUT_BUDGET!: number;
  @Default(60)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(86400)
  EXEC_DEFAULT_TIMEOUT_SECONDS!: number;
  @Default(3600)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(604800)
  EXEC_MAX_TIMEOUT_SECONDS!: number;
}

/** Limits of commands run in a sandbox (read by the work service and the exec runner). */
export class ExecConfig {
  /** Bytes kept per output stream of one exec. */
  readonly outputLimitBytes: number;
  /** Bytes of buffered exec output all requests together may hold at once (then 503). */
  readonly outputBudgetBytes: number;
  readonly defaultTimeoutSeconds: number;
  readonly maxTimeoutSeconds: number;

  constructor(env: ExecEnv) {
    this.outputLimitBytes = env.EXEC_OUTPUT_LIMIT;
    this.outputBudgetBytes = env.EXEC_OUTPUT_BUDGET;
    this.defaultTimeoutSeconds = env.EXEC_DEFAULT_TIMEOUT_SECONDS;
    this.maxTimeoutSeconds = env.EXEC_MAX_TIMEOUT_SECONDS;
  }
}

export const EXEC_SLICE = defineSlice(ExecEnv, ExecConfig);
