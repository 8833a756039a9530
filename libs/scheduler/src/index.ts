export { SchedulerModule } from './scheduler.module';
export { LifecycleScheduler } from './lifecycle.scheduler';
export { EventRetention } from './event-retention';
