import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { MetaStoreModule } from '@app/meta-store';
import { SandboxModule } from '@app/sandbox';
import { EventRetention } from './event-retention';
import { LifecycleScheduler } from './lifecycle.scheduler';

@Module({
  imports: [ScheduleModule.forRoot(), MetaStoreModule, SandboxModule],
  providers: [EventRetention, LifecycleScheduler],
  exports: [EventRetention],
})
export class SchedulerModule {}
