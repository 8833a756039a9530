import { ClusterModule } from '@app/cluster';
import { NodesController } from './cluster/nodes.controller';
import { RemoteCreateController } from './cluster/remote-create.controller';
import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { AuthModule } from '@app/auth';
import { AppConfigModule } from '@app/config';
import { SandboxModule } from '@app/sandbox';
import { SchedulerModule } from '@app/scheduler';
import { AdminController } from './admin.controller';
import { ApiKeyGuard } from './auth/api-key.guard';
import { ApiKeysController } from './auth/api-keys.controller';
import { HealthController } from './health.controller';
import { ErrorFilter } from './http/error.filter';
import { createValidationPipe } from './http/validation.pipe';
import { E2bApiModule } from './e2b/e2b-api.module';
import { EventsController } from './events.controller';
import { ExtensionsModule } from './extensions/extensions.module';
import { RockApiModule } from './rock/rock-api.module';
import { SandboxController } from './sandbox.controller';
import { SandboxWorkController } from './sandbox-work.controller';
import { TenantsController } from './tenants.controller';

/**
 * Composition root. The guard, pipe and filter are providers, so tests get exactly production's.
 */
@Module({
  controllers: [
    AdminController,
    ApiKeysController,
    EventsController,
    HealthController,
    NodesController,
    RemoteCreateController,
    SandboxController,
    SandboxWorkController,
    TenantsController,
  ],
  imports: [
    AppConfigModule,
    AuthModule,
    ClusterModule,
    SandboxModule,
    SchedulerModule,
    RockApiModule,
    E2bApiModule,
    ExtensionsModule,
  ],
  providers: [
    { provide: APP_GUARD, useClass: ApiKeyGuard },
    { provide: APP_FILTER, useClass: ErrorFilter },
    { provide: APP_PIPE, useFactory: createValidationPipe },
  ],
})
export class AppModule {}
