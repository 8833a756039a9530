import { Module, OnApplicationBootstrap, OnApplicationShutdown, Logger } from '@nestjs/common';
import { describeError } from '@app/domain';
import { ClusterConfig } from '@app/config';
import { ClusterDirectory, ClusterModule, ClusterPlacement, RemoteCreate } from '@app/cluster';
import { DeploymentModule } from '@app/deployment';
import { MetaStoreModule } from '@app/meta-store';
import { QuotaModule } from '@app/quota';
import { SandboxAccessTokens } from './sandbox-access-tokens';
import { EventFeed } from './events/event-feed';
import { SandboxAdmission } from './sandbox-admission';
import { SandboxAutomation } from './sandbox-automation';
import { SandboxCommands } from './sandbox-commands';
import { SandboxDriver } from './sandbox-driver';
import { SandboxEvents } from './sandbox-events';
import { SandboxReconciler } from './sandbox-reconciler';
import { SandboxResources } from './sandbox-resources';
import { SandboxEffects } from './sandbox-effects';
import { SandboxHealth } from './sandbox-health';
import { SandboxMetrics } from './sandbox-metrics';
import { CLUSTER_CREATES, ClusterCreates, SandboxService } from './sandbox.service';
import { NodeLoss } from './node-loss';
import { SandboxOwnership } from './sandbox-ownership';
import { SandboxRouting } from './sandbox-routing';
import { SandboxWorkService } from './sandbox-work.service';
import { TenantService } from './tenant.service';
import { ContainerProvisioner } from './container-provisioner';
import { PoolMetrics } from './warm-pool/pool-metrics';
import { WarmPool } from './warm-pool/warm-pool';

@Module({
  exports: [
    NodeLoss,
    SandboxOwnership,
    SandboxRouting,
    SandboxAccessTokens,
    EventFeed,
    SandboxAdmission,
    SandboxAutomation,
    SandboxEvents,
    SandboxHealth,
    SandboxMetrics,
    SandboxReconciler,
    SandboxResources,
    SandboxService,
    SandboxWorkService,
    TenantService,
    WarmPool,
  ],
  imports: [ClusterModule, DeploymentModule, MetaStoreModule, QuotaModule],
  providers: [
    {
      provide: CLUSTER_CREATES,
      inject: [ClusterConfig, ClusterDirectory, ClusterPlacement, RemoteCreate],
      useFactory: (
        config: ClusterConfig,
        directory: ClusterDirectory,
        placement: ClusterPlacement,
        remote: RemoteCreate,
      ): ClusterCreates => ({ enabled: config.enabled, directory, placement, remote }),
    },
    NodeLoss,
    SandboxOwnership,
    SandboxRouting,
    ContainerProvisioner,
    EventFeed,
    PoolMetrics,
    SandboxAccessTokens,
    SandboxAdmission,
    SandboxAutomation,
    SandboxCommands,
    SandboxDriver,
    SandboxEffects,
    SandboxEvents,
    SandboxHealth,
    SandboxMetrics,
    SandboxReconciler,
    SandboxResources,
    SandboxService,
    SandboxWorkService,
    TenantService,
    WarmPool,
  ],
})
export class SandboxModule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SandboxModule.name);

  constructor(
    private readonly sandboxes: SandboxService,
    private readonly pool: WarmPool,
  ) {}

  /**
   * In the background after boot: operations a killed process left in flight are finished, and
   * the warm pool takes over its members of an earlier run and fills up.
   */
  onApplicationBootstrap(): void {
    void this.sandboxes
      .recoverInterrupted()
      .then((n) => n > 0 && this.logger.log(`recovered ${n} interrupted operation(s)`))
      .catch((error: unknown) => this.logger.error(`recovery failed: ${describeError(error)}`));
    void this.pool
      .start()
      .catch((error: unknown) =>
        this.logger.error(`warm pool start failed: ${describeError(error)}`),
      );
  }

  /** Creates in flight may still take pool members, so the pool stops after they finished. */
  async onApplicationShutdown(): Promise<void> {
    await this.sandboxes.drain();
    await this.pool.stop();
  }
}
