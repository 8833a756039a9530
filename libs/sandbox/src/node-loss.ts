import { Injectable, Logger } from '@nestjs/common';
import { ClusterConfig, DockerConfig } from '@app/config';
import { describeError, SYSTEM_ACTOR } from '@app/domain';
import { ClusterNodeStore } from '@app/meta-store';
import type { ClusterNodeRecord } from '@app/meta-store';
import { settleBounded } from './bounded';
import { NODE_LOST_REASON } from './lifecycle-events';
import { SandboxCommands } from './sandbox-commands';
import { stateHasTag } from './sandbox.machine';

/** How many lost sandboxes are marked at once. */
const CONCURRENCY = 8;

export interface NodeLossResult {
  /** Host names (else ids) of the nodes found lost. */
  lostNodes: string[];
  stopped: number;
}

/**
 * Node loss (CLUSTER=swarm): a node whose instance has not beaten for NODE_LOST_SECONDS is lost
 * (unless the Swarm says it is up and drained), and its running sandboxes are marked stopped with
 * reason `node-lost`. The machine's `exited`
 * event (the same as for a container that died), so the stop events fire and the auto-delete
 * deadline starts as for any stop; no engine is asked, which is why any instance may do it. A
 * sandbox with an operation in flight is left to its own instance: finishing that operation here
 * would run its effect on the wrong engine. When the node comes back, its reconciler stops the
 * containers of the records marked stopped (the records win), and a restart brings them back with
 * their files.
 */
@Injectable()
export class NodeLoss {
  private readonly logger = new Logger(NodeLoss.name);

  constructor(
    private readonly cluster: ClusterConfig,
    private readonly docker: DockerConfig,
    private readonly nodes: ClusterNodeStore,
    private readonly commands: SandboxCommands,
  ) {}

  async sweep(now = Date.now()): Promise<NodeLossResult> {
    const result: NodeLossResult = { lostNodes: [], stopped: 0 };
    if (!this.cluster.enabled) return result;
    const lost = (await this.nodes.list()).filter((node) => this.isLost(node, now));
    for (const node of lost) {
      const instanceId = node.instanceId!;
      result.lostNodes.push(node.hostname || node.nodeId);
      const ids = await this.nodes.liveSandboxesOf(instanceId);
      const outcomes = await settleBounded(ids, CONCURRENCY, (id) => this.markLost(id, instanceId));
      for (const [i, outcome] of outcomes.entries()) {
        if (outcome.status === 'fulfilled' && outcome.value) result.stopped += 1;
        if (outcome.status === 'rejected') {
          this.logger.warn(`node-lost stop of ${ids[i]} failed: ${describeError(outcome.reason)}`);
        }
      }
    }
    if (result.stopped > 0) {
      this.logger.warn(
        `stopped ${result.stopped} sandbox(es) of lost node(s) ${result.lostNodes.join(', ')}`,
      );
    }
    return result;
  }

  private isLost(node: ClusterNodeRecord, now: number): boolean {
    const silent =
      node.instanceId !== null &&
      node.instanceId !== this.docker.instanceId &&
      node.heartbeatAt !== null &&
      now - node.heartbeatAt > this.cluster.nodeLostMs;
    return silent && !this.isDrainedButUp(node, now);
  }

  /**
   * Draining a node makes the Swarm stop every task on it, a global service's too: deployed as
   * deploy/swarm/stack.yml, its sandboxd goes silent while the machine and its containers stay
   * up. The Swarm (read fresh by a manager's instance) still says the node is `ready`: that is a
   * drain, not a loss, and its sandboxes keep running until it is active again.
   */
  private isDrainedButUp(node: ClusterNodeRecord, now: number): boolean {
    const fresh = node.observedAt !== null && now - node.observedAt < this.cluster.nodeLostMs;
    return fresh && node.availability === 'drain' && node.state === 'ready';
  }

  private async markLost(sandboxId: string, instanceId: string): Promise<boolean> {
    const outcome = await this.commands.run({
      sandboxId,
      actor: SYSTEM_ACTOR,
      lock: 'try',
      refusals: 'skip',
      foreign: 'allowed',
      unless: ({ info }) => {
        if (info.instanceId !== instanceId) return 'not on the lost node';
        return stateHasTag(info, 'busy') ? 'an operation is in flight on the lost node' : null;
      },
      event: { type: 'exited', reason: NODE_LOST_REASON },
    });
    return outcome.outcome === 'done';
  }
}
