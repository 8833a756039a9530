import { CodedError } from '@app/domain';
import type { ClusterNodeRecord } from '@app/meta-store';

/** What a create asks of the node it lands on. */
export interface PlacementRequest {
  cpus: number | null;
  memoryBytes: number | null;
  runtime: string;
  /** Labels the node must carry, each with this value (the create's `placement.nodeLabels`). */
  nodeLabels: Readonly<Record<string, string>>;
  /** The image's os/architecture when known here (it is on this node's engine); null: any. */
  platform: string | null;
}

export interface PlacementRules {
  now: number;
  /** A node whose instance has been silent longer than this takes nothing new. */
  staleAfterMs: number;
  overcommitCpu: number;
  overcommitMemory: number;
  /** How many of the best-scored nodes a pick is drawn from (spreads a burst). */
  choices: number;
  /** How far below the best score (a fraction of capacity) a node still counts as one of the best. */
  nearBest: number;
  /** [0, 1), Math.random in production; a seeded one in tests. */
  random: () => number;
}

/** The label that says a node's engine has an OCI runtime other than runc registered. */
export function runtimeLabel(runtime: string): string {
  return `sandboxd.runtime.${runtime}`;
}

/**
 * The nodes a create may be placed on, in the order to try them: a random pick among the (at most
 * `choices`) nodes whose room left after it is within `nearBest` of the most, then the others by
 * room. Near-ties are drawn at random so that placements on several instances, which read the
 * same counters at the same moment, do not all pick one node. A later node is tried only when an earlier one
 * refuses at admission (its counter moved since it was read) or cannot be reached.
 *
 * Throws 422 NO_MATCHING_NODE when no node passes the constraints (availability, state, a live
 * instance, platform, runtime, labels), naming each node's reason; 422 EXCEEDS_HOST_CAPACITY when
 * it could not fit on any of them even empty; 429 INSUFFICIENT_CAPACITY when it fits, but not
 * beside what they hold now.
 */
export function rankNodes(
  request: PlacementRequest,
  nodes: readonly ClusterNodeRecord[],
  rules: PlacementRules,
): ClusterNodeRecord[] {
  const reasons: Record<string, string> = {};
  const eligible = nodes.filter((node) => {
    const why = mismatchOf(request, node, rules);
    if (why !== null) reasons[node.nodeId] = why;
    return why === null;
  });
  if (eligible.length === 0) {
    const listed = nodes.map((node) => `${nameOf(node)}: ${reasons[node.nodeId]}`);
    throw new CodedError(
      'NO_MATCHING_NODE',
      nodes.length === 0
        ? 'no cluster node is known yet (no instance has read the Swarm)'
        : `no cluster node can take this sandbox (${listed.join('; ')})`,
      { nodes: reasons },
    );
  }
  const room = eligible.map((node) => roomOf(request, node, rules));
  const fitting = room.filter((entry) => entry.fits).sort((a, b) => b.score - a.score);
  if (fitting.length === 0) throw capacityRefusal(request, room);
  const top = fitting[0].score;
  const near = fitting.filter((entry) => entry.score >= top - rules.nearBest);
  const best = near.slice(0, Math.max(1, rules.choices));
  const [first] = best.splice(Math.floor(rules.random() * best.length), 1);
  return [first, ...fitting.filter((entry) => entry !== first)].map((entry) => entry.node);
}

/** Why the node may not take the request, or null when it may (capacity aside). */
function mismatchOf(
  request: PlacementRequest,
  node: ClusterNodeRecord,
  rules: PlacementRules,
): string | null {
  if (node.instanceId === null || node.apiUrl === null || node.heartbeatAt === null) {
    return 'no sandboxd instance runs there';
  }
  const silentMs = rules.now - node.heartbeatAt;
  if (silentMs > rules.staleAfterMs) {
    return `its instance has not reported for ${Math.round(silentMs / 1000)} s`;
  }
  if (node.availability !== 'active') return `availability is ${node.availability || 'unknown'}`;
  if (node.state !== 'ready') return `state is ${node.state || 'unknown'}`;
  if (request.platform !== null && !samePlatform(request.platform, node.platform)) {
    return `platform ${node.platform}, the image is ${request.platform}`;
  }
  if (request.runtime !== 'runc' && node.labels[runtimeLabel(request.runtime)] !== 'true') {
    return `runtime ${request.runtime} is not offered (no node label ${runtimeLabel(request.runtime)}=true)`;
  }
  for (const [key, wanted] of Object.entries(request.nodeLabels)) {
    const has = node.labels[key];
    if (has === undefined) return `no node label ${key}`;
    if (has !== wanted) return `node label ${key} is "${has}", not "${wanted}"`;
  }
  return null;
}

interface Room {
  node: ClusterNodeRecord;
  fits: boolean;
  /** Whether it would fit the node when empty. */
  everFits: boolean;
  /** The smaller of the free CPU and memory fractions left after the request. */
  score: number;
  freeCpus: number;
  freeMemoryBytes: number;
}

function roomOf(request: PlacementRequest, node: ClusterNodeRecord, rules: PlacementRules): Room {
  const cpuCapacity = node.cpus * rules.overcommitCpu;
  const memoryCapacity = Math.floor(node.memoryBytes * rules.overcommitMemory);
  const freeCpus = cpuCapacity - node.committed.cpus;
  const freeMemoryBytes = memoryCapacity - node.committed.memoryBytes;
  const cpus = request.cpus ?? 0;
  const memory = request.memoryBytes ?? 0;
  const fraction = (left: number, capacity: number) => (capacity > 0 ? left / capacity : 0);
  return {
    node,
    fits: cpus <= freeCpus + 1e-9 && memory <= freeMemoryBytes,
    everFits: cpus <= cpuCapacity + 1e-9 && memory <= memoryCapacity,
    score: Math.min(
      fraction(freeCpus - cpus, cpuCapacity),
      fraction(freeMemoryBytes - memory, memoryCapacity),
    ),
    freeCpus,
    freeMemoryBytes,
  };
}

function capacityRefusal(request: PlacementRequest, room: readonly Room[]): CodedError {
  const free = Object.fromEntries(
    room.map(({ node, freeCpus, freeMemoryBytes }) => [
      node.nodeId,
      { freeCpus: Math.round(freeCpus * 100) / 100, freeMemoryBytes },
    ]),
  );
  const wanted = `${request.cpus ?? 0} CPUs and ${request.memoryBytes ?? 0} bytes`;
  if (!room.some((entry) => entry.everFits)) {
    return new CodedError(
      'EXCEEDS_HOST_CAPACITY',
      `${wanted} can never fit any node that matches (capacity × OVERCOMMIT_CPU/OVERCOMMIT_MEMORY)`,
      { nodes: free },
    );
  }
  return new CodedError(
    'INSUFFICIENT_CAPACITY',
    `no matching node has ${wanted} free now (${room.length} node(s) match; try again once some sandboxes stop)`,
    { nodes: free },
  );
}

/** x86_64 and amd64, aarch64 and arm64 are one architecture under two names (Swarm's and images'). */
function samePlatform(a: string, b: string): boolean {
  return normalizePlatform(a) === normalizePlatform(b);
}

const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64' };

export function normalizePlatform(platform: string): string {
  const [os, arch = ''] = platform.toLowerCase().split('/');
  return `${os}/${ARCH_ALIASES[arch] ?? arch}`;
}

/** A node's name in messages: its host name and short id (host names need not be unique). */
export function nameOf(node: Pick<ClusterNodeRecord, 'hostname' | 'nodeId'>): string {
  const id = node.nodeId.slice(0, 12);
  return node.hostname ? `${node.hostname} (${id})` : id;
}
