import 'reflect-metadata';
import { resolve } from 'node:path';
import { Transform } from 'class-transformer';
import { IsOptional, Matches } from 'class-validator';
import { Default } from '../env/env-default';
import { emptyToUndefined } from '../env/env-rules';
import { defineSlice } from '../env/slice';

export class LogDirEnv {
  @Default(() => resolve('data', 'logs'), '`./data/logs` (absolute)')
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^\//, { message: 'LOG_ROOT must be an absolute path' })
  LOG_ROOT!: string;
  @Default('/data/logs')
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^\//, { message: 'LOG_MOUNT_PATH must be an absolute path' })
  LOG_MOUNT_PATH!: string;
}

/** Each sandbox's log directory on the host, and where it appears inside (container-provisioner). */
export class LogDirConfig {
  /** Host folder of `<root>/<sandbox id>`. */
  readonly root: string;
  readonly mountPath: string;

  constructor(env: LogDirEnv) {
    this.root = env.LOG_ROOT;
    this.mountPath = env.LOG_MOUNT_PATH;
  }
}

export const LOG_DIR_SLICE = defineSlice(LogDirEnv, LogDirConfig);
