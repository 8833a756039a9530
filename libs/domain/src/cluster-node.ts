/**
 * What the cluster's manager says of one node (CLUSTER=swarm: Docker Swarm's `GET /nodes`): the
 * deployment reads it, the store keeps it, placement decides on it.
 */
export interface ClusterNodeFacts {
  nodeId: string;
  hostname: string;
  /** manager or worker. */
  role: string;
  /** active, pause or drain. */
  availability: string;
  /** ready, down, unknown or disconnected. */
  state: string;
  /** The node's own labels (`docker node update --label-add`), not the engine's. */
  labels: Record<string, string>;
  cpus: number;
  memoryBytes: number;
  /** os/architecture, e.g. linux/x86_64. */
  platform: string;
}
