import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { Injectable } from '@nestjs/common';
import { ClusterConfig } from '@app/config';
import { CLUSTER_HEADERS, ClusterDirectory, encodeActor, isClusterSecret } from '@app/cluster';
import type { ForwardTarget } from '@app/cluster';
import { CodedError } from '@app/domain';
import type { Actor, SandboxInfo } from '@app/domain';
import { SandboxMetaStore } from '@app/meta-store';
import { isSandboxIdShaped } from './sandbox-id';
import { SandboxOwnership } from './sandbox-ownership';
import { SandboxService } from './sandbox.service';

/** The API's own listener, or the E2B listener (E2B_PORT) of the owner. */
export type ListenerPlane = 'api' | 'e2b';

/**
 * Where a call about a sandbox is answered, for the edges (CLUSTER=swarm): here when this instance
 * owns it (always on a single host), else by the owner's instance, which the edge forwards the
 * call to with `headersFor`. An owner that never beat, or whose node is lost, is 503
 * NODE_UNAVAILABLE at once rather than a connection attempt that can only time out.
 */
@Injectable()
export class SandboxRouting {
  constructor(
    private readonly cluster: ClusterConfig,
    private readonly ownership: SandboxOwnership,
    private readonly directory: ClusterDirectory,
    private readonly store: SandboxMetaStore,
    private readonly sandboxes: SandboxService,
  ) {}

  get enabled(): boolean {
    return this.cluster.enabled;
  }

  get connectTimeoutMs(): number {
    return this.cluster.connectTimeoutMs;
  }

  /** Where the calls about the sandbox go: null for here. */
  async ownerOf(
    info: Pick<SandboxInfo, 'id' | 'instanceId'>,
    plane: ListenerPlane,
  ): Promise<ForwardTarget | null> {
    if (this.ownership.owns(info)) return null;
    const address = await this.directory.addressOf(info.instanceId);
    const name = address?.hostname || address?.nodeId || info.instanceId;
    const url = plane === 'api' ? address?.apiUrl : address?.e2bUrl;
    if (!address || !url) {
      throw unavailable(info, name, `its instance ${info.instanceId} is not known to the cluster`);
    }
    const silentMs = Date.now() - (address.heartbeatAt ?? 0);
    if (silentMs > this.cluster.nodeLostMs) {
      throw unavailable(info, name, `it has not reported for ${Math.round(silentMs / 1000)} s`);
    }
    return { url, name };
  }

  /**
   * Whether a request was forwarded by another instance of the cluster (it carries the cluster
   * secret): it is answered here, never forwarded again.
   */
  isForwarded(headers: IncomingHttpHeaders): boolean {
    return isClusterSecret(this.cluster.secret, headers[CLUSTER_HEADERS.secret]);
  }

  /**
   * Where a call by `actor` about the sandbox it names by id or name goes: null for here, also
   * when `actor` sees no such sandbox (the route then answers SANDBOX_NOT_FOUND in its protocol).
   */
  async ownerFor(
    actor: Actor,
    idOrName: string,
    plane: ListenerPlane,
  ): Promise<ForwardTarget | null> {
    if (!this.enabled) return null;
    const info = await this.sandboxes.get(actor, idOrName).catch(() => null);
    return info === null ? null : this.ownerOf(info, plane);
  }

  /** ownerOf by id alone (E2B's data plane names its sandbox by id); null too when unknown. */
  async ownerOfId(id: string, plane: ListenerPlane): Promise<ForwardTarget | null> {
    if (!this.enabled || !isSandboxIdShaped(id)) return null;
    const info = await this.store.get(id);
    return info === null || info.id !== id ? null : this.ownerOf(info, plane);
  }

  /** The headers that make the owner believe the forwarded call (the actor: when one was known). */
  headersFor(actor: Actor | null): OutgoingHttpHeaders {
    const headers: OutgoingHttpHeaders = { [CLUSTER_HEADERS.secret]: this.cluster.secret ?? '' };
    if (actor !== null) headers[CLUSTER_HEADERS.actor] = encodeActor(actor);
    return headers;
  }
}

function unavailable(info: Pick<SandboxInfo, 'id'>, node: string, why: string): CodedError {
  return new CodedError(
    'NODE_UNAVAILABLE',
    `sandbox ${info.id} is on cluster node ${node}, which is unavailable: ${why}`,
    { sandboxId: info.id, node },
  );
}
