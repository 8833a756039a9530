import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ClusterPlacement } from '@app/cluster';
import type { ClusterNodeView } from '@app/cluster';
import { CLUSTER_MODES, ClusterConfig } from '@app/config';
import { AdminOnly } from '../auth/admin-only.decorator';

class NodeAmountsView {
  @ApiProperty() sandboxes!: number;
  @ApiProperty() cpus!: number;
  @ApiProperty() memoryBytes!: number;
}

class NodeFreeView {
  @ApiProperty() cpus!: number;
  @ApiProperty() memoryBytes!: number;
}

class NodeView {
  @ApiProperty({ description: 'Swarm node id' }) id!: string;
  @ApiProperty() hostname!: string;
  @ApiProperty({ description: 'manager or worker' }) role!: string;
  @ApiProperty({ description: "The Swarm's: active, pause or drain" }) availability!: string;
  @ApiProperty({ description: "The Swarm's: ready, down, unknown, disconnected" }) state!: string;
  @ApiProperty({
    enum: ['ready', 'draining', 'unavailable', 'silent', 'lost', 'no-instance'],
    description:
      'ready: takes creates; draining: availability is not active; unavailable: the Swarm says it is not ready; silent: its instance missed three heartbeats; lost: silent past NODE_LOST_SECONDS (its sandboxes were stopped); no-instance: no sandboxd runs there',
  })
  status!: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } })
  labels!: Record<string, string>;
  @ApiProperty({ example: 'linux/x86_64' }) platform!: string;
  @ApiProperty() cpus!: number;
  @ApiProperty() memoryBytes!: number;
  @ApiProperty({ type: String, nullable: true }) instanceId!: string | null;
  @ApiProperty({ type: String, nullable: true }) url!: string | null;
  @ApiProperty({ type: String, nullable: true }) lastHeartbeatAt!: string | null;
  @ApiProperty({ type: NodeAmountsView, description: 'What its live sandboxes reserve' })
  reserved!: NodeAmountsView;
  @ApiProperty({ type: NodeFreeView, description: 'Capacity × OVERCOMMIT_*, less reserved' })
  free!: NodeFreeView;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'integer' },
    description: 'Its sandboxes that are not deleted, by state',
  })
  sandboxes!: Record<string, number>;
}

class NodeListView {
  @ApiProperty({ enum: CLUSTER_MODES }) cluster!: string;
  @ApiProperty({ type: [NodeView] }) nodes!: ClusterNodeView[];
}

@ApiTags('operations')
@AdminOnly()
@Controller('v1/admin/nodes')
export class NodesController {
  constructor(
    private readonly config: ClusterConfig,
    private readonly placement: ClusterPlacement,
  ) {}

  @Get()
  @ApiOperation({
    summary:
      'The cluster nodes (CLUSTER=swarm): availability, heartbeat, reservations and sandboxes of each; empty on a single host',
  })
  @ApiOkResponse({ type: NodeListView })
  async list(): Promise<NodeListView> {
    if (!this.config.enabled) return { cluster: this.config.mode, nodes: [] };
    return { cluster: this.config.mode, nodes: await this.placement.describe() };
  }
}
