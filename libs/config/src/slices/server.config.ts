import 'reflect-metadata';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { Default } from '../env/env-default';
import { emptyToUndefined } from '../env/env-rules';
import { defineSlice } from '../env/slice';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export class ServerEnv {
  @Default('127.0.0.1') @IsOptional() @IsString() @Transform(emptyToUndefined) HOST!: string;
  @Default(8080) @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(65535) PORT!: number;
  @Default('log') @IsOptional() @Transform(emptyToUndefined) @IsIn(LOG_LEVELS) LOG_LEVEL!: LogLevel;
}

/** Where the HTTP API listens and how much it logs (read by main.ts). */
export class ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly logLevel: LogLevel;

  constructor(env: ServerEnv) {
    this.host = env.HOST;
    this.port = env.PORT;
    this.logLevel = env.LOG_LEVEL;
  }
}

export const SERVER_SLICE = defineSlice(ServerEnv, ServerConfig);
