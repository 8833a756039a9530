import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { LogDirConfig } from '@app/config';
import { CodedError } from '@app/domain';
import { ContainerSpec, ContainerState, DockerDeployment, EngineFacts } from '@app/deployment';
import { QuotaService } from '@app/quota';
import type { LogDirQuotaFacts } from './sandbox.machine';

/** Why a container made without `--storage-opt size=` has no project for its log dir. */
const NO_SIZE_QUOTA =
  'the container has no disk limit (no --storage-opt size), so Docker gave its upper dir no project quota for the log dir to join';

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
export class ContainerProvisioner implements OnModuleInit {
  private readonly logger = new Logger(ContainerProvisioner.name);
  /** In-flight provisions by sandbox id, so a delete can cancel one (an image pull above all). */
  private readonly inFlight = new Map<string, AbortController>();

  constructor(
    private readonly config: LogDirConfig,
    private readonly deployment: DockerDeployment,
    private readonly engine: EngineFacts,
    private readonly quota: QuotaService,
  ) {}

  /**
   * Refuses to start (throws) on an unsafe LOG_ROOT, or tightens it and says so; then makes it its
   * nosuid,nodev,noexec mount, or says why it could not (every create and restart asks again).
   */
  async onModuleInit(): Promise<void> {
    const tightened = await this.quota.secureLogRoot(this.config.root);
    if (tightened) this.logger.warn(tightened);
  }

  /**
   * Aborts a provision of this process still in flight (the image pull, the start watch), so a
   * forced delete need not wait for the engine's own deadlines. True when there was one.
   */
  cancel(sandboxId: string, reason: string): boolean {
    const controller = this.inFlight.get(sandboxId);
    if (!controller) return false;
    controller.abort(
      new CodedError('CONTAINER_FAILED', reason, { sandboxId, reason: 'cancelled' }),
    );
    return true;
  }

  async provision(spec: ContainerSpec, signal?: AbortSignal): Promise<Provisioned> {
    const controller = new AbortController();
    this.inFlight.set(spec.sandboxId, controller);
    const signals = signal ? [signal, controller.signal] : [controller.signal];
    try {
      return await this.provisionOnce(spec, AbortSignal.any(signals));
    } finally {
      if (this.inFlight.get(spec.sandboxId) === controller) this.inFlight.delete(spec.sandboxId);
    }
  }

  /**
   * Makes sure the log dir is reached through LOG_ROOT's nosuid,nodev,noexec mount before a
   * restart (mounts do not survive a reboot); one read of the mount table when it is.
   */
  async secureLogDir(sandboxId: string): Promise<void> {
    const logDir = await this.quota.ensureLogDir(this.config.root, sandboxId);
    await this.quota.secureLogDir(logDir);
  }

  private async provisionOnce(spec: ContainerSpec, signal: AbortSignal): Promise<Provisioned> {
    const logDir = await this.quota.ensureLogDir(this.config.root, spec.sandboxId);
    // Before Docker binds it (at the start, or already running for a resumed provision).
    await this.quota.secureLogDir(logDir);
    let logDirQuota: LogDirQuotaFacts | null = null;
    // Never fails the create: a log dir without its own quota is reported, not fatal.
    const shareQuota = async (containerId: string) => {
      // Docker gives the upper dir a project id only with a size quota: without one there is
      // nothing to join, so neither the inspect nor the mount-table and xfs reads are spent.
      if (typeof spec.storageBytes !== 'number') {
        logDirQuota = { shared: false, projectId: null, reason: NO_SIZE_QUOTA };
        return;
      }
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
      { ...spec, logMount: { hostPath: logDir, containerPath: this.config.mountPath } },
      shareQuota,
      signal,
    );
    return { state, logDirQuota };
  }

  /** Removes a container and its log directory (the log dir lives as long as the sandbox). */
  async remove(sandboxId: string, containerIdOrName: string, signal?: AbortSignal): Promise<void> {
    await this.deployment.remove(containerIdOrName, signal);
    signal?.throwIfAborted();
    await this.quota.removeLogDir(this.config.root, sandboxId);
  }
}
