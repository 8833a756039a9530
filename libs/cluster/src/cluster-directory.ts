import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ClusterConfig, DockerConfig, E2bConfig, ServerConfig } from '@app/config';
import { describeError } from '@app/domain';
import { SwarmFacts } from '@app/deployment';
import { ClusterNodeStore } from '@app/meta-store';
import type { ClusterNodeRecord } from '@app/meta-store';
import { defaultAdvertiseUrl, withPort } from './advertise-url';

/** How long a read of the node table serves placements (a burst reads it once, not 60 times). */
const NODES_FRESH_MS = 1000;

/** The node table as read at `readAt`. */
export interface NodeTable {
  readAt: number;
  nodes: ClusterNodeRecord[];
}

/** Where a node's instance is reached; null when no instance ever beat there. */
export function addressOfNode(node: ClusterNodeRecord): InstanceAddress | null {
  if (node.instanceId === null || node.apiUrl === null) return null;
  return {
    instanceId: node.instanceId,
    nodeId: node.nodeId,
    hostname: node.hostname,
    apiUrl: node.apiUrl,
    e2bUrl: node.e2bUrl,
    heartbeatAt: node.heartbeatAt,
  };
}

/** A create placed on a node, and when its call to the node ended (null: still going). */
interface Placing {
  nodeId: string;
  cpus: number;
  memoryBytes: number;
  settledAt: number | null;
}

/** Where an instance of the cluster is reached, and since when it is silent. */
export interface InstanceAddress {
  instanceId: string;
  nodeId: string;
  hostname: string;
  apiUrl: string;
  e2bUrl: string | null;
  heartbeatAt: number | null;
}

/**
 * This instance's view of the cluster (CLUSTER=swarm): which Swarm node its engine is, the node
 * table (read from the Swarm manager API by whichever instances run on managers), and its own
 * heartbeat, written every CLUSTER_HEARTBEAT_SECONDS with where it is reached. An instance whose
 * engine does not answer, or is in no Swarm, writes no heartbeat: it serves the API only and
 * nothing is placed on it. Off (no timer, no query) unless CLUSTER=swarm.
 */
@Injectable()
export class ClusterDirectory implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Cluster');
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private nodeId: string | null = null;
  private cached: { at: number; nodes: Promise<ClusterNodeRecord[]> } | null = null;
  /** The creates this instance placed that the table it read may not count yet. */
  private readonly placing = new Set<Placing>();
  readonly apiUrl: string;
  readonly e2bUrl: string | null;

  constructor(
    private readonly config: ClusterConfig,
    private readonly docker: DockerConfig,
    server: ServerConfig,
    e2b: E2bConfig,
    private readonly swarm: SwarmFacts,
    private readonly store: ClusterNodeStore,
  ) {
    // Only cluster mode advertises (a subnet this host has no address in stops the boot here).
    if (!config.enabled) {
      this.apiUrl = config.advertiseUrl ?? '';
      this.e2bUrl = config.advertiseE2bUrl;
      return;
    }
    this.apiUrl = config.advertiseUrl ?? defaultAdvertiseUrl(server.port, config.advertiseSubnet);
    this.e2bUrl =
      config.advertiseE2bUrl ?? (e2b.port === null ? null : withPort(this.apiUrl, e2b.port));
  }

  get enabled(): boolean {
    return this.config.enabled;
  }

  /** The Swarm node of this instance's engine; null while unknown or when it is in no Swarm. */
  get localNodeId(): string | null {
    return this.nodeId;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) return;
    // The first beat before the API takes calls, so a create can be placed here at once.
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.config.heartbeatMs);
    this.timer.unref();
    this.logger.log(
      this.nodeId === null
        ? `cluster mode: no Swarm node answers on this engine, serving the API only (as ${this.apiUrl})`
        : `cluster mode: node ${this.nodeId}, reached at ${this.apiUrl}`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.beating;
  }

  /**
   * Every node with its instance and usage, as last read (a read of the table serves for a
   * second); `withPlacing` adds what this instance is placing now.
   */
  async table(): Promise<NodeTable> {
    const now = Date.now();
    if (this.cached === null || now - this.cached.at > NODES_FRESH_MS) {
      const nodes = this.store.list();
      // A failed read is not kept: the next caller asks again.
      nodes.catch(() => {
        if (this.cached?.nodes === nodes) this.cached = null;
      });
      this.cached = { at: now, nodes };
    }
    const readAt = this.cached.at;
    return { readAt, nodes: await this.cached.nodes };
  }

  /**
   * The table with the creates this instance is placing counted on their nodes. Synchronous, so
   * that a placement ranks and takes its share (whileReserved) with no other placement between.
   */
  withPlacing(table: NodeTable): ClusterNodeRecord[] {
    // A settled create is in every table read after it settled: its own count goes.
    for (const placing of this.placing) {
      if (placing.settledAt !== null && placing.settledAt < table.readAt) {
        this.placing.delete(placing);
      }
    }
    return table.nodes.map((node) => {
      const committed = { ...node.committed };
      for (const placing of this.placing) {
        if (placing.nodeId !== node.nodeId) continue;
        committed.sandboxes += 1;
        committed.cpus += placing.cpus;
        committed.memoryBytes += placing.memoryBytes;
      }
      return { ...node, committed };
    });
  }

  /**
   * Runs `attempt` (a create placed on `nodeId`) with its share counted in the table this
   * instance reads (withPlacing), from this call, synchronously, until a read made after it settled: a burst's next placements
   * see the node fuller at once, not only once the node's counter has it and the table was read
   * again. Counted twice for a moment, never not at all.
   */
  async whileReserved<T>(
    nodeId: string,
    share: { cpus: number; memoryBytes: number },
    attempt: () => Promise<T>,
  ): Promise<T> {
    const placing: Placing = { nodeId, ...share, settledAt: null };
    this.placing.add(placing);
    try {
      return await attempt();
    } finally {
      placing.settledAt = Date.now();
    }
  }

  /** Forgets the cached node table (after a placement found it stale). */
  invalidate(): void {
    this.cached = null;
  }

  /**
   * Where `instanceId` is reached; null when no node names it (it never beat). From the table
   * this instance last read (at most a second old), not a query per forwarded call.
   */
  async addressOf(instanceId: string): Promise<InstanceAddress | null> {
    const { nodes } = await this.table();
    // A node that was given another instance keeps none of its old one's name: the latest beat.
    const [node] = nodes
      .filter((candidate) => candidate.instanceId === instanceId)
      .sort((a, b) => (b.heartbeatAt ?? 0) - (a.heartbeatAt ?? 0));
    return node === undefined ? null : addressOfNode(node);
  }

  /** Each node's sandboxes that are not deleted, by state (the admin's view). */
  sandboxCounts(): ReturnType<ClusterNodeStore['sandboxCounts']> {
    return this.store.sandboxCounts();
  }

  /** One beat, never overlapping the last; a failure is logged and the next beat tries again. */
  private beat(): Promise<void> {
    this.beating ??= this.beatOnce()
      .catch((error: unknown) => this.logger.warn(`heartbeat failed: ${describeError(error)}`))
      .finally(() => {
        this.beating = null;
      });
    return this.beating;
  }

  private async beatOnce(): Promise<void> {
    const local = await this.swarm.localNode().catch((error: unknown) => {
      if (this.nodeId !== null) {
        this.logger.warn(`the engine stopped answering: ${describeError(error)}`);
      }
      return null;
    });
    const now = Date.now();
    if (local === null || local.nodeId === '' || local.state !== 'active') {
      this.nodeId = null;
      return;
    }
    if (local.isManager) await this.store.saveInventory(await this.swarm.nodes(), now);
    await this.store.beat(
      local.nodeId,
      { instanceId: this.docker.instanceId, apiUrl: this.apiUrl, e2bUrl: this.e2bUrl },
      now,
    );
    this.nodeId = local.nodeId;
  }
}
