import { Injectable } from '@nestjs/common';
import { ClusterConfig, DockerConfig } from '@app/config';
import { CodedError } from '@app/domain';
import type { SandboxInfo } from '@app/domain';

/**
 * Which sandboxes this instance acts on. On one host every instance shares the one engine, so it
 * acts on all of them. In cluster mode (CLUSTER=swarm) a sandbox's container is on the engine of
 * the node whose instance created it, and only that instance may run its effects: the HTTP edge
 * forwards commands there, and the background work (deadlines, the reconciler, recovery) of every
 * other instance leaves it alone. The one exception is node loss, whose stop touches no engine.
 */
@Injectable()
export class SandboxOwnership {
  constructor(
    private readonly cluster: ClusterConfig,
    private readonly docker: DockerConfig,
  ) {}

  owns(info: Pick<SandboxInfo, 'instanceId'>): boolean {
    return !this.cluster.enabled || info.instanceId === this.docker.instanceId;
  }

  /** The instance whose sandboxes a scan takes: this one in cluster mode; null (all) on one host. */
  get scanScope(): string | null {
    return this.cluster.enabled ? this.docker.instanceId : null;
  }

  /** What a command on another instance's sandbox answers when it reached this one anyway. */
  notOwned(info: Pick<SandboxInfo, 'id' | 'instanceId'>): CodedError {
    return new CodedError(
      'NODE_UNAVAILABLE',
      `sandbox ${info.id} is on the node of instance ${info.instanceId}; this instance (${this.docker.instanceId}) cannot act on its container`,
      { sandboxId: info.id, instanceId: info.instanceId },
    );
  }
}
