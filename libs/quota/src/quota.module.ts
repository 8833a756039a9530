import { Module } from '@nestjs/common';
import { CommandRunner } from './command-runner';
import { MountTable } from './mount-table';
import { QuotaService } from './quota.service';

/** XFS project-quota sharing between a container's rootfs and its log dir. Needs no config. */
@Module({
  providers: [CommandRunner, MountTable, QuotaService],
  exports: [CommandRunner, MountTable, QuotaService],
})
export class QuotaModule {}
