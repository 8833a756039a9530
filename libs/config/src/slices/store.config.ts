import 'reflect-metadata';
import { join } from 'node:path';
import { Transform } from 'class-transformer';
import { IsOptional, IsString, Matches, MinLength } from 'class-validator';
import { Default } from '../env/env-default';
import { emptyToUndefined, ParsedBy } from '../env/env-rules';
import { defineSlice } from '../env/slice';
import { SecretsKey } from '../secrets-key';

export class StoreEnv {
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL?: string;
  @Default(join('data', 'sandboxd.sqlite'))
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @MinLength(1)
  SQLITE_PATH!: string;
  /** Checked through SecretsKey, whose messages never echo the key. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @ParsedBy((text) => SecretsKey.parse(text))
  SECRETS_KEY?: string;
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^rediss?:\/\//, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;
  @Default('sandboxd:')
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  REDIS_KEY_PREFIX!: string;
}

/** Where records, cache and locks live, and the key of env values at rest (read by meta-store). */
export class StoreConfig {
  /** Unset: SQLite at sqlitePath. */
  readonly databaseUrl: string | undefined;
  readonly sqlitePath: string;
  /** Key of the env values at rest; null: generated next to SQLite (refused with PostgreSQL). */
  readonly secretsKey: SecretsKey | null;
  /** Unset: in-process cache and locks. */
  readonly redisUrl: string | undefined;
  readonly redisKeyPrefix: string;

  constructor(env: StoreEnv) {
    this.databaseUrl = env.DATABASE_URL;
    this.sqlitePath = env.SQLITE_PATH;
    this.secretsKey = env.SECRETS_KEY === undefined ? null : SecretsKey.parse(env.SECRETS_KEY);
    this.redisUrl = env.REDIS_URL;
    this.redisKeyPrefix = env.REDIS_KEY_PREFIX;
  }
}

export const STORE_SLICE = defineSlice(StoreEnv, StoreConfig);
