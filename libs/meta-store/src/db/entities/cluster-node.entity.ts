import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumberTransformer } from '../bigint-number.transformer';
import { epochMsTransformer } from '../epoch-ms.transformer';

/**
 * One node of the Docker Swarm (CLUSTER=swarm), by its Swarm node id. Two writers share a row,
 * column by column: whichever instance reads the Swarm manager API writes the node's facts (host
 * name, availability, state, labels, size), and the node's own instance writes its heartbeat and
 * where it is reached. Placement, forwarding and node-loss read only this table.
 */
@Entity('cluster_node')
export class ClusterNodeEntity {
  @PrimaryColumn({ name: 'node_id', type: 'varchar', length: 64 })
  nodeId!: string;

  @Column({ type: 'varchar', length: 255, default: '' })
  hostname!: string;

  /** manager or worker. */
  @Column({ type: 'varchar', length: 16, default: '' })
  role!: string;

  /** active, pause or drain (the Swarm's own word). */
  @Column({ type: 'varchar', length: 16, default: '' })
  availability!: string;

  /** ready, down, unknown or disconnected (the Swarm's own word). */
  @Column({ type: 'varchar', length: 16, default: '' })
  state!: string;

  /** The node's labels (`docker node update --label-add`), which placement constraints match. */
  @Column({ type: 'simple-json', default: '{}' })
  labels!: Record<string, string>;

  @Column({ type: 'float', default: 0 })
  cpus!: number;

  @Column({
    name: 'memory_bytes',
    type: 'bigint',
    default: 0,
    transformer: bigintNumberTransformer,
  })
  memoryBytes!: number;

  /** os/architecture, e.g. linux/x86_64, as the engine reports it. */
  @Column({ type: 'varchar', length: 64, default: '' })
  platform!: string;

  /** When the Swarm facts were last read; null until they have been. */
  @Column({ name: 'observed_at', type: 'bigint', nullable: true, transformer: epochMsTransformer })
  observedAt!: number | null;

  /** The INSTANCE_ID of the sandboxd instance on the node; null until one has beaten. */
  @Column({ name: 'instance_id', type: 'varchar', length: 64, nullable: true })
  instanceId!: string | null;

  @Column({ name: 'api_url', type: 'varchar', length: 512, nullable: true })
  apiUrl!: string | null;

  @Column({ name: 'e2b_url', type: 'varchar', length: 512, nullable: true })
  e2bUrl!: string | null;

  @Column({ name: 'heartbeat_at', type: 'bigint', nullable: true, transformer: epochMsTransformer })
  heartbeatAt!: number | null;
}
