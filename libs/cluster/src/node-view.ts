import type { ClusterNodeRecord } from '@app/meta-store';
import type { SandboxState } from '@app/domain';

/** How a node stands for placement and for node loss. */
export type NodeStatus = 'ready' | 'draining' | 'unavailable' | 'silent' | 'lost' | 'no-instance';

/** One node as `GET /v1/admin/nodes` shows it. */
export interface ClusterNodeView {
  id: string;
  hostname: string;
  role: string;
  /** The Swarm's: active, pause or drain. */
  availability: string;
  /** The Swarm's: ready, down, unknown, disconnected. */
  state: string;
  status: NodeStatus;
  labels: Record<string, string>;
  platform: string;
  cpus: number;
  memoryBytes: number;
  instanceId: string | null;
  url: string | null;
  lastHeartbeatAt: string | null;
  /** What its live sandboxes reserve (its usage counter). */
  reserved: { sandboxes: number; cpus: number; memoryBytes: number };
  /** Capacity × overcommit, less what is reserved. */
  free: { cpus: number; memoryBytes: number };
  /** Its sandboxes that are not deleted, by state. */
  sandboxes: Partial<Record<SandboxState, number>>;
}

export interface ViewRules {
  now: number;
  staleAfterMs: number;
  nodeLostMs: number;
  overcommitCpu: number;
  overcommitMemory: number;
}

export function viewOfNode(
  node: ClusterNodeRecord,
  sandboxes: Partial<Record<SandboxState, number>>,
  rules: ViewRules,
): ClusterNodeView {
  return {
    id: node.nodeId,
    hostname: node.hostname,
    role: node.role,
    availability: node.availability,
    state: node.state,
    status: statusOf(node, rules),
    labels: node.labels,
    platform: node.platform,
    cpus: node.cpus,
    memoryBytes: node.memoryBytes,
    instanceId: node.instanceId,
    url: node.apiUrl,
    lastHeartbeatAt: node.heartbeatAt === null ? null : new Date(node.heartbeatAt).toISOString(),
    reserved: node.committed,
    free: {
      cpus: Math.round((node.cpus * rules.overcommitCpu - node.committed.cpus) * 100) / 100,
      memoryBytes:
        Math.floor(node.memoryBytes * rules.overcommitMemory) - node.committed.memoryBytes,
    },
    sandboxes,
  };
}

function statusOf(node: ClusterNodeRecord, rules: ViewRules): NodeStatus {
  if (node.instanceId === null || node.heartbeatAt === null) return 'no-instance';
  const silentMs = rules.now - node.heartbeatAt;
  if (silentMs > rules.nodeLostMs) return 'lost';
  if (silentMs > rules.staleAfterMs) return 'silent';
  if (node.state !== 'ready') return 'unavailable';
  if (node.availability !== 'active') return 'draining';
  return 'ready';
}
