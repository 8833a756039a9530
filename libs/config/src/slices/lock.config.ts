import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { Default } from '../env/env-default';
import { defineSlice } from '../env/slice';

export class LockEnv {
  @Default(30)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(2)
  @Max(600)
  LOCK_TTL_SECONDS!: number;
  @Default(60)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(3600)
  LOCK_WAIT_SECONDS!: number;
}

/** The per-sandbox lock (read by SandboxLock). */
export class LockConfig {
  /** Expiry of a held lock, renewed while held. */
  readonly ttlMs: number;
  /** Longest a command waits for the lock before SANDBOX_BUSY. */
  readonly waitMs: number;

  constructor(env: LockEnv) {
    this.ttlMs = env.LOCK_TTL_SECONDS * 1000;
    this.waitMs = env.LOCK_WAIT_SECONDS * 1000;
  }
}

export const LOCK_SLICE = defineSlice(LockEnv, LockConfig);
