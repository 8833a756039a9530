import type { Transport } from './http';
import type { NodeList } from './types';

/**
 * The cluster's nodes (`GET /v1/admin/nodes`, CLUSTER=swarm), for a client made with the admin
 * key: each node's availability, state, heartbeat, reservations and sandboxes. On a single host
 * the list is empty and `cluster` is `off`.
 */
export class ClusterNodes {
  constructor(private readonly transport: Transport) {}

  list(): Promise<NodeList> {
    return this.transport.json<NodeList>({ method: 'GET', path: '/v1/admin/nodes' });
  }
}
