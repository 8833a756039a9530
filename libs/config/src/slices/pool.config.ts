import 'reflect-metadata';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString } from 'class-validator';
import { Default } from '../env/env-default';
import { emptyToUndefined, ParsedBy } from '../env/env-rules';
import { defineSlice } from '../env/slice';
import { parseWarmPool, WarmPoolEntry } from '../warm-pool-config';

export class PoolEnv {
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @ParsedBy(parseWarmPool)
  WARM_POOL?: string;
  @Default('true')
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['true', 'false'], { message: 'WARM_POOL_REMOVE_ON_SHUTDOWN must be true or false' })
  WARM_POOL_REMOVE_ON_SHUTDOWN!: 'true' | 'false';
}

/** The warm pool (read by WarmPool and the scheduler). */
export class PoolConfig {
  /** Unset: no pool. */
  readonly entries: readonly WarmPoolEntry[];
  readonly removeOnShutdown: boolean;

  constructor(env: PoolEnv) {
    this.entries = env.WARM_POOL === undefined ? [] : parseWarmPool(env.WARM_POOL);
    this.removeOnShutdown = env.WARM_POOL_REMOVE_ON_SHUTDOWN === 'true';
  }
}

export const POOL_SLICE = defineSlice(PoolEnv, PoolConfig);
