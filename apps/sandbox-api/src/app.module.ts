import { Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AppConfigModule } from '@app/config';
import { SandboxModule } from '@app/sandbox';
import { SchedulerModule } from '@app/scheduler';
import { AdminController } from './admin.controller';
import { HealthController } from './health.controller';
import { ErrorFilter } from './http/error.filter';
import { createValidationPipe } from './http/validation.pipe';
import { E2bApiModule } from './e2b/e2b-api.module';
import { RockApiModule } from './rock/rock-api.module';
import { SandboxController } from './sandbox.controller';
import { SandboxWorkController } from './sandbox-work.controller';
import { TenantsController } from './tenants.controller';

/** Composition root. The pipe and filter are providers, so tests get exactly production's. */
@Module({
  controllers: [
    AdminController,
    HealthController,
    SandboxController,
    SandboxWorkController,
    TenantsController,
  ],
  imports: [AppConfigModule, SandboxModule, SchedulerModule, RockApiModule, E2bApiModule],
  providers: [
    { provide: APP_FILTER, useClass: ErrorFilter },
    { provide: APP_PIPE, useFactory: createValidationPipe },
  ],
})
export class AppModule {}
