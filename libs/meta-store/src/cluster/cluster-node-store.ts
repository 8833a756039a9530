import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, Like, Not } from 'typeorm';
import { LIVE_STATES } from '@app/domain';
import type { ClusterNodeFacts, SandboxState } from '@app/domain';
import { ClusterNodeEntity } from '../db/entities/cluster-node.entity';
import { ResourceUsageEntity } from '../db/entities/resource-usage.entity';
import { SandboxEntity } from '../db/entities/sandbox.entity';
import { DbGate } from '../store/db-gate';
import { NANOS_PER_CPU, nodeScope } from '../store/usage-contribution';

/** What the Swarm manager API says of one node. */
export type NodeFacts = ClusterNodeFacts;

/** Where a node's instance is reached, as it says in its heartbeat. */
export interface NodeBeat {
  instanceId: string;
  apiUrl: string;
  e2bUrl: string | null;
}

/** One node as the cluster sees it: its Swarm facts, its instance's last beat, its usage. */
export interface ClusterNodeRecord extends NodeFacts {
  /** When the facts were last read from the Swarm (epoch ms); null: never. */
  observedAt: number | null;
  instanceId: string | null;
  apiUrl: string | null;
  e2bUrl: string | null;
  /** Epoch ms of the instance's last beat; null: no instance ever ran there. */
  heartbeatAt: number | null;
  /** What the live sandboxes on the node commit (its usage counter row). */
  committed: { sandboxes: number; cpus: number; memoryBytes: number };
}

interface StateCount {
  node: string;
  state: SandboxState;
  count: string | number;
}

const FACT_COLUMNS = [
  'hostname',
  'role',
  'availability',
  'state',
  'labels',
  'cpus',
  'memory_bytes',
  'platform',
  'observed_at',
];

/**
 * The cluster_node table (ClusterNodeEntity): the Swarm's inventory, as the instances that can
 * read the manager API write it, and every instance's heartbeat. Upserts name only their own
 * columns, so the two writers of a row never undo each other.
 */
@Injectable()
export class ClusterNodeStore {
  private readonly gate: DbGate;

  constructor(@InjectDataSource() dataSource: DataSource) {
    this.gate = new DbGate(dataSource);
  }

  /**
   * Writes the Swarm's facts of every node, and forgets the nodes the Swarm no longer lists (a
   * node removed with `docker node rm`). An empty list is no inventory, not an empty Swarm.
   */
  saveInventory(nodes: readonly NodeFacts[], now: number): Promise<void> {
    if (nodes.length === 0) return Promise.resolve();
    return this.gate.run(async (manager) => {
      await manager.transaction(async (tx) => {
        await tx
          .createQueryBuilder()
          .insert()
          .into(ClusterNodeEntity)
          .values(nodes.map((node) => ({ ...node, observedAt: now })))
          .orUpdate(FACT_COLUMNS, ['node_id'])
          .execute();
        await tx.delete(ClusterNodeEntity, { nodeId: Not(In(nodes.map((n) => n.nodeId))) });
      });
    });
  }

  /** The node's instance is alive at `now`, reached at `beat`'s addresses. */
  beat(nodeId: string, beat: NodeBeat, now: number): Promise<void> {
    return this.gate.run(async (manager) => {
      await manager
        .createQueryBuilder()
        .insert()
        .into(ClusterNodeEntity)
        .values({ nodeId, ...beat, heartbeatAt: now })
        .orUpdate(['instance_id', 'api_url', 'e2b_url', 'heartbeat_at'], ['node_id'])
        .execute();
    });
  }

  /**
   * Every node, by node id, with what its live sandboxes commit. Read for placement (at most once
   * a second per instance) and node loss: two small tables, nothing summed over the sandboxes.
   */
  list(): Promise<ClusterNodeRecord[]> {
    return this.gate.run(async (manager) => {
      const [rows, usage] = await Promise.all([
        manager.find(ClusterNodeEntity, { order: { nodeId: 'ASC' } }),
        manager.find(ResourceUsageEntity, { where: { scope: Like(`${nodeScope('')}%`) } }),
      ]);
      const byScope = new Map(usage.map((row) => [row.scope, row]));
      return rows.map((row) => {
        const counter = byScope.get(nodeScope(row.nodeId));
        return {
          ...row,
          committed: {
            sandboxes: counter?.sandboxes ?? 0,
            cpus: (counter?.cpuNanos ?? 0) / NANOS_PER_CPU,
            memoryBytes: counter?.memoryBytes ?? 0,
          },
        };
      });
    });
  }

  /** Each node's sandboxes that are not deleted, by state (for the admin's view of the nodes). */
  sandboxCounts(): Promise<Map<string, Partial<Record<SandboxState, number>>>> {
    return this.gate.run(async (manager) => {
      const counts = await manager
        .createQueryBuilder(SandboxEntity, 's')
        .select('s.node', 'node')
        .addSelect('s.state', 'state')
        .addSelect('COUNT(*)', 'count')
        .where("s.node <> ''")
        .andWhere("s.state <> 'deleted'")
        .groupBy('s.node')
        .addGroupBy('s.state')
        .getRawMany<StateCount>();
      const byNode = new Map<string, Partial<Record<SandboxState, number>>>();
      for (const { node, state, count } of counts) {
        byNode.set(node, { ...byNode.get(node), [state]: Number(count) });
      }
      return byNode;
    });
  }

  /** Ids of the live (pending, running) sandboxes that `instanceId` created. */
  liveSandboxesOf(instanceId: string): Promise<string[]> {
    return this.gate.run(async (manager) => {
      const rows = await manager.find(SandboxEntity, {
        select: { id: true },
        where: { instanceId, state: In([...LIVE_STATES]) },
        order: { id: 'ASC' },
      });
      return rows.map((row) => row.id);
    });
  }
}
