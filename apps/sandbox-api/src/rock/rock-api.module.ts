import { tmpdir } from 'node:os';
import { Module } from '@nestjs/common';
import { MulterModule } from '@nestjs/platform-express';
import { FilesConfig } from '@app/config';
import { RockModule } from '@app/rock';
import { SandboxModule } from '@app/sandbox';
import { RockController } from './rock.controller';
import { RockUploadForwarder } from '../cluster/rock-upload-forwarder';

/**
 * The ROCK routes. Uploads are spooled to a temporary file (never held in memory) and refused
 * past FILE_SIZE_LIMIT, the limit of /v1's file writes.
 */
@Module({
  controllers: [RockController],
  providers: [RockUploadForwarder],
  imports: [
    RockModule,
    // SandboxRouting and SandboxService, for the forwarding of calls about another node's sandbox.
    SandboxModule,
    MulterModule.registerAsync({
      inject: [FilesConfig],
      useFactory: (config: FilesConfig) => ({
        dest: tmpdir(),
        limits: { fileSize: config.sizeLimitBytes, files: 1, fields: 8, parts: 9 },
      }),
    }),
  ],
})
export class RockApiModule {}
