import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { MetaStoreModule } from '@app/meta-store';
import { SandboxModule } from '@app/sandbox';
import { LifecycleScheduler } from './lifecycle.scheduler';

@Module({
  imports: [ScheduleModule.forRoot(), MetaStoreModule, SandboxModule],
  providers: [LifecycleScheduler],
})
export class SchedulerModule {}
