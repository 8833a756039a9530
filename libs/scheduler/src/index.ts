export { SchedulerModule } from './scheduler.module';
export { LifecycleScheduler } from './lifecycle.scheduler';
