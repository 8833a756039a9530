import { Injectable } from '@nestjs/common';
import Dockerode from 'dockerode';
import { DockerConfig } from '@app/config';
import type { ClusterNodeFacts } from '@app/domain';
import { withEngineBound } from './engine-bounds';

/** What the local engine says of its own place in a Swarm (`GET /info`'s Swarm section). */
export interface LocalSwarmNode {
  /** The Swarm node id; '' when the engine is in no Swarm. */
  nodeId: string;
  /** inactive, pending, active, error or locked. */
  state: string;
  /** Whether this engine is a manager, and so can answer the node list. */
  isManager: boolean;
}

/** One node as the Swarm manager API lists it (`GET /nodes`). */
export type SwarmNode = ClusterNodeFacts;

interface SwarmInfo {
  Swarm?: {
    NodeID?: string;
    LocalNodeState?: string;
    ControlAvailable?: boolean;
  };
}

interface ListedNode {
  ID?: string;
  Spec?: { Role?: string; Availability?: string; Labels?: Record<string, string> };
  Description?: {
    Hostname?: string;
    Platform?: { OS?: string; Architecture?: string };
    Resources?: { NanoCPUs?: number; MemoryBytes?: number };
  };
  Status?: { State?: string };
}

/**
 * The Swarm as the local engine sees it, for cluster mode (libs/cluster): the engine's own node,
 * and (on a manager) every node with its availability, state, labels and size. Each call has the
 * inspect bound, so a stalled engine is an ENGINE_TIMEOUT, not a hung heartbeat.
 */
@Injectable()
export class SwarmFacts {
  private readonly docker: Dockerode;

  constructor(private readonly config: DockerConfig) {
    this.docker = new Dockerode({ socketPath: config.socketPath });
  }

  async localNode(): Promise<LocalSwarmNode> {
    // dockerode's info() takes no signal: the bound's race settles it all the same.
    const info = await this.bounded('swarm info', () => this.docker.info() as Promise<SwarmInfo>);
    const swarm = info.Swarm ?? {};
    return {
      nodeId: swarm.NodeID ?? '',
      state: swarm.LocalNodeState ?? 'inactive',
      isManager: swarm.ControlAvailable === true,
    };
  }

  /** Every node of the Swarm; only a manager can answer (a worker's engine refuses with 503). */
  async nodes(): Promise<SwarmNode[]> {
    const listed = await this.bounded(
      'swarm node list',
      (abortSignal) => this.docker.listNodes({ abortSignal }) as Promise<ListedNode[]>,
    );
    return listed.filter((node) => typeof node.ID === 'string').map(toSwarmNode);
  }

  private bounded<T>(target: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withEngineBound(
      { kind: 'inspect', boundMs: this.config.callTimeoutsMs.inspect, target },
      call,
    );
  }
}

function toSwarmNode(node: ListedNode): SwarmNode {
  const description = node.Description ?? {};
  const platform = description.Platform ?? {};
  return {
    nodeId: node.ID ?? '',
    hostname: description.Hostname ?? '',
    role: node.Spec?.Role ?? '',
    availability: node.Spec?.Availability ?? '',
    state: node.Status?.State ?? 'unknown',
    labels: { ...(node.Spec?.Labels ?? {}) },
    cpus: (description.Resources?.NanoCPUs ?? 0) / 1e9,
    memoryBytes: description.Resources?.MemoryBytes ?? 0,
    platform: `${platform.OS ?? ''}/${platform.Architecture ?? ''}`,
  };
}
