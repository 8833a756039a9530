import { Injectable } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { ContainerSpec, ContainerState, DockerDeployment, EngineFacts } from '@app/deployment';
import { QuotaService } from '@app/quota';
import type { LogDirQuotaFacts } from './sandbox.machine';

export interface Provisioned {
  state: ContainerState;
  /**
   * The outcome of sharing the container's disk quota with the log directory; null when the
   * container already existed (a resumed provision or a warm-pool member), so no step ran now.
   */
  logDirQuota: LogDirQuotaFacts | null;
}

/**
 * Makes (or resumes) the container of a sandbox with its log directory: the directory is created
 * and bind-mounted, and between create and start it is given the container's XFS project id, so
 * one disk budget covers both (the seed's shared project id). Used by cold creates and by the
 * warm pool alike.
 */
@Injectable()
export class ContainerProvisioner {
  constructor(
    private readonly config: AppConfig,
    private readonly deployment: DockerDeployment,
    private readonly engine: EngineFacts,
    private readonly quota: QuotaService,
  ) {}

  async provision(spec: ContainerSpec, signal?: AbortSignal): Promise<Provisioned> {
    const logDir = await this.quota.ensureLogDir(this.config.logRoot, spec.sandboxId);
    let logDirQuota: LogDirQuotaFacts | null = null;
    // Never fails the create: a log dir without its own quota is reported, not fatal.
    const shareQuota = async (containerId: string) => {
      const upperDir = await this.engine.upperDir(containerId).catch(() => null);
      if (upperDir === null) {
        logDirQuota = { shared: false, projectId: null, reason: 'storage driver has no upper dir' };
        return;
      }
      const shared = await this.quota.shareWithLogDir(upperDir, logDir);
      logDirQuota = shared.shared
        ? { shared: true, projectId: shared.projectId, reason: null }
        : { shared: false, projectId: null, reason: shared.reason };
    };
    const state = await this.deployment.provision(
      { ...spec, logMount: { hostPath: logDir, containerPath: this.config.logMountPath } },
      shareQuota,
      signal,
    );
    return { state, logDirQuota };
  }

  /** Removes a container and its log directory (the log dir lives as long as the sandbox). */
  async remove(sandboxId: string, containerIdOrName: string): Promise<void> {
    await this.deployment.remove(containerIdOrName);
    await this.quota.removeLogDir(this.config.logRoot, sandboxId);
  }
}
