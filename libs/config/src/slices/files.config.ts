import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Min } from 'class-validator';
import { Default } from '../env/env-default';
import { defineSlice } from '../env/slice';

export class FilesEnv {
  @Default(100 * 1024 * 1024)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  FILE_SIZE_LIMIT!: number;
}

/** The files API (read by the work service and its controller). */
export class FilesConfig {
  /** Largest file written or read at once. */
  readonly sizeLimitBytes: number;

  constructor(env: FilesEnv) {
    this.sizeLimitBytes = env.FILE_SIZE_LIMIT;
  }
}

export const FILES_SLICE = defineSlice(FilesEnv, FilesConfig);
