import { Module, OnApplicationBootstrap, OnApplicationShutdown, Logger } from '@nestjs/common';
import { describeError } from '@app/config';
import { DeploymentModule } from '@app/deployment';
import { MetaStoreModule } from '@app/meta-store';
import { QuotaModule } from '@app/quota';
import { SandboxAutomation } from './sandbox-automation';
import { SandboxDriver } from './sandbox-driver';
import { SandboxReconciler } from './sandbox-reconciler';
import { SandboxResources } from './sandbox-resources';
import { SandboxEffects } from './sandbox-effects';
import { SandboxHealth } from './sandbox-health';
import { SandboxMetrics } from './sandbox-metrics';
import { SandboxService } from './sandbox.service';
import { SandboxWorkService } from './sandbox-work.service';

@Module({
  exports: [
    SandboxAutomation,
    SandboxHealth,
    SandboxMetrics,
    SandboxReconciler,
    SandboxResources,
    SandboxService,
    SandboxWorkService,
  ],
  imports: [DeploymentModule, MetaStoreModule, QuotaModule],
  providers: [
    SandboxAutomation,
    SandboxDriver,
    SandboxEffects,
    SandboxHealth,
    SandboxMetrics,
    SandboxReconciler,
    SandboxResources,
    SandboxService,
    SandboxWorkService,
  ],
})
export class SandboxModule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SandboxModule.name);

  constructor(private readonly sandboxes: SandboxService) {}

  /** Operations a killed process left in flight are finished in the background after boot. */
  onApplicationBootstrap(): void {
    void this.sandboxes
      .recoverInterrupted()
      .then((n) => n > 0 && this.logger.log(`recovered ${n} interrupted operation(s)`))
      .catch((error: unknown) => this.logger.error(`recovery failed: ${describeError(error)}`));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sandboxes.drain();
  }
}
