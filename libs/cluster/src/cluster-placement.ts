import { Injectable, Logger } from '@nestjs/common';
import { ClusterConfig, ResourcesConfig } from '@app/config';
import { CodedError, describeError, isCodedError } from '@app/domain';
import type { ClusterNodeRecord } from '@app/meta-store';
import { ClusterDirectory, NodeTable } from './cluster-directory';
import { ClusterNodeView, viewOfNode } from './node-view';
import { PlacementRequest, nameOf, rankNodes } from './placement';

/** How many of the best nodes a placement draws from. */
const PLACEMENT_CHOICES = 3;
/** Nodes within 1% of capacity of the roomiest count as equally good. */
const NEAR_BEST = 0.01;

/**
 * A node's refusal that the next node may not share: its counter filled since it was read, or it
 * does not answer. Anything else (a bad request, a tenant's limit) would be refused anywhere.
 */
function worthAnotherNode(error: unknown): boolean {
  return (
    isCodedError(error) &&
    (error.code === 'NODE_UNAVAILABLE' || error.code === 'INSUFFICIENT_CAPACITY')
  );
}

/**
 * Places creates on the cluster's nodes (CLUSTER=swarm): ranks them (placement.ts) from the node
 * table and tries them in that order. The reservation itself is the chosen node's admission,
 * atomic across instances on its `node:<id>` usage counter, so two placements that read the same
 * free room cannot both take its last share: the second is refused there and tries its next node.
 */
@Injectable()
export class ClusterPlacement {
  private readonly logger = new Logger('Placement');

  constructor(
    private readonly cluster: ClusterConfig,
    private readonly resources: ResourcesConfig,
    private readonly directory: ClusterDirectory,
  ) {}

  /**
   * The ranking on the cached table; a refusal on a table read before this call (up to a second
   * old: a node undrained since, a counter freed) is decided again on a table read now.
   */
  private async rankFresh(request: PlacementRequest): Promise<ClusterNodeRecord[]> {
    const askedAt = Date.now();
    const table = await this.directory.table();
    try {
      return this.rank(request, table);
    } catch (error) {
      if (table.readAt >= askedAt) throw error;
      this.directory.invalidate();
      return this.rank(request, await this.directory.table());
    }
  }

  /** The nodes `request` may go to, best first (throws the refusal when none may). */
  private rank(request: PlacementRequest, table: NodeTable): ClusterNodeRecord[] {
    return rankNodes(request, this.directory.withPlacing(table), {
      ...this.rules(),
      choices: PLACEMENT_CHOICES,
      nearBest: NEAR_BEST,
      random: Math.random,
    });
  }

  /** Every node as the admin sees it (GET /v1/admin/nodes), read fresh. */
  async describe(): Promise<ClusterNodeView[]> {
    this.directory.invalidate();
    const [table, counts] = await Promise.all([
      this.directory.table(),
      this.directory.sandboxCounts(),
    ]);
    const rules = { ...this.rules(), nodeLostMs: this.cluster.nodeLostMs };
    return table.nodes.map((node) => viewOfNode(node, counts.get(node.nodeId) ?? {}, rules));
  }

  private rules() {
    return {
      now: Date.now(),
      // Three missed beats: the instance is probably gone, long before it counts as lost.
      staleAfterMs: Math.min(this.cluster.nodeLostMs, 3 * this.cluster.heartbeatMs),
      overcommitCpu: this.resources.overcommitCpu,
      overcommitMemory: this.resources.overcommitMemory,
    };
  }

  /**
   * Runs `attempt` on the ranked nodes in turn until one takes the create; the last refusal when
   * none does.
   */
  async place<T>(
    request: PlacementRequest,
    attempt: (node: ClusterNodeRecord) => Promise<T>,
  ): Promise<T> {
    // Ranked and the first share taken in one synchronous step after the read: the placements of
    // a burst each see the ones before them.
    const ranked = await this.rankFresh(request);
    let last: unknown = null;
    for (const node of ranked) {
      const share = { cpus: request.cpus ?? 0, memoryBytes: request.memoryBytes ?? 0 };
      try {
        return await this.directory.whileReserved(node.nodeId, share, () => attempt(node));
      } catch (error) {
        if (!worthAnotherNode(error)) throw error;
        last = error;
        this.directory.invalidate();
        this.logger.warn(`node ${nameOf(node)} did not take a create: ${describeError(error)}`);
      }
    }
    throw last instanceof CodedError
      ? last
      : new CodedError('NODE_UNAVAILABLE', 'no cluster node took the create');
  }
}
