import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { formatMemorySize } from '@app/sandbox';
import {
  ACTOR_KINDS,
  ActorKind,
  SANDBOX_NETWORKS,
  SANDBOX_OPERATIONS,
  SANDBOX_STATES,
  SandboxInfo,
  SandboxNetwork,
  SandboxOperation,
  SandboxState,
} from '@app/domain';

export class DiskLimitView {
  @ApiProperty({ example: '10g' }) requested!: string;
  @ApiProperty() requestedBytes!: number;
  @ApiProperty({ description: 'Whether the engine enforces it (--storage-opt size=)' })
  enforced!: boolean;
  @ApiProperty({ type: String, nullable: true }) reason!: string | null;
}

export class LogDirQuotaView {
  @ApiProperty({ description: 'The log dir shares the container disk budget (XFS project id)' })
  shared!: boolean;
  @ApiProperty({ type: Number, nullable: true }) projectId!: number | null;
  @ApiProperty({ type: String, nullable: true }) reason!: string | null;
}

export class ActorView {
  @ApiProperty({ enum: ACTOR_KINDS, example: 'tenant' }) kind!: ActorKind;
  @ApiProperty({ type: String, nullable: true, example: 'team-a' }) tenant!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The API key id (never the key)' })
  keyId!: string | null;
}

export class StateTransitionView {
  @ApiProperty({ enum: SANDBOX_STATES }) from!: SandboxState;
  @ApiProperty({ enum: SANDBOX_STATES }) to!: SandboxState;
  @ApiProperty({ example: 'stop' }) event!: string;
  @ApiProperty({ example: '2026-01-01T00:00:00.000Z' }) at!: string;
  @ApiPropertyOptional({ example: 'manual' }) reason?: string;
  @ApiPropertyOptional({
    type: ActorView,
    description: 'Who caused it; absent on entries recorded before actors were',
  })
  actor?: ActorView;
}

/** The public view of a sandbox. Env values and DB-only fields never appear here. */
export class SandboxView {
  @ApiProperty() id!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Unique among the non-deleted sandboxes of its tenant',
  })
  name!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'team-a',
    description:
      "The tenant of the API key that created it; null for the admin's and auth-off creates",
  })
  tenant!: string | null;
  @ApiProperty({ enum: SANDBOX_STATES }) state!: SandboxState;
  @ApiProperty({ enum: SANDBOX_OPERATIONS, nullable: true }) operation!: SandboxOperation | null;
  @ApiProperty() image!: string;
  @ApiProperty({ type: Number, nullable: true }) cpus!: number | null;
  @ApiProperty({ type: String, nullable: true, example: '512m' }) memory!: string | null;
  @ApiProperty({ type: Number, nullable: true }) memoryBytes!: number | null;
  @ApiProperty({ type: Number, nullable: true }) pidsLimit!: number | null;
  @ApiProperty({ example: 'runc' }) runtime!: string;
  @ApiProperty({
    enum: SANDBOX_NETWORKS,
    description: "bridge: sandboxd's own network (no traffic between sandboxes); none: only lo",
  })
  network!: SandboxNetwork;
  @ApiProperty({ type: DiskLimitView, nullable: true }) disk!: DiskLimitView | null;
  @ApiProperty({ type: LogDirQuotaView, nullable: true }) logDirQuota!: LogDirQuotaView | null;
  @ApiProperty({
    description:
      'True when the create took a ready container from the warm pool (WARM_POOL) instead of making one',
  })
  fromPool!: boolean;
  @ApiProperty({ type: [String], description: 'Names of the env variables (values never echoed)' })
  envKeys!: string[];
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } })
  labels!: Record<string, string>;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'integer' },
    description: 'Container port → host port',
    example: { '8080': 30001 },
  })
  ports!: Record<string, number>;
  @ApiProperty({ type: String, nullable: true, description: 'Address the ports are published on' })
  host!: string | null;
  @ApiProperty({ type: String, nullable: true }) containerId!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'CLUSTER=swarm: the Swarm node id whose engine holds it; null on a single host',
  })
  node!: string | null;
  @ApiProperty() idleTimeoutSeconds!: number;
  @ApiProperty({ type: Number, nullable: true }) maxLifetimeSeconds!: number | null;
  @ApiProperty({ type: Number, nullable: true }) autoDeleteSeconds!: number | null;
  @ApiProperty({ description: 'Exempt from auto-delete and force-delete' }) protected!: boolean;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'When the idle timeout or max lifetime stops it (live sandboxes)',
  })
  autoStopAt!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'When it is deleted (stopped ones)' })
  autoDeleteAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) lastActivityAt!: string | null;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ type: String, nullable: true }) startedAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) stoppedAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) deletedAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) failureReason!: string | null;
  @ApiProperty({ type: [StateTransitionView], description: 'The last 100 transitions' })
  stateHistory!: StateTransitionView[];

  static of(info: SandboxInfo): SandboxView {
    return {
      id: info.id,
      name: info.name,
      tenant: info.tenant,
      state: info.state,
      operation: info.operation,
      image: info.image,
      cpus: info.cpus,
      memory: info.memoryBytes === null ? null : formatMemorySize(info.memoryBytes),
      memoryBytes: info.memoryBytes,
      pidsLimit: info.pidsLimit,
      runtime: info.runtime,
      network: info.network,
      disk: info.disk,
      logDirQuota: info.logDirQuota,
      fromPool: info.fromPool,
      envKeys: info.envKeys,
      labels: info.labels,
      ports: info.ports,
      host: info.host,
      containerId: info.containerId,
      node: info.node,
      idleTimeoutSeconds: info.idleTimeoutSeconds,
      maxLifetimeSeconds: info.maxLifetimeSeconds,
      autoDeleteSeconds: info.autoDeleteSeconds,
      protected: info.protected,
      autoStopAt: info.autoStopAt,
      autoDeleteAt: info.autoDeleteAt,
      lastActivityAt: info.lastActivityAt,
      createdAt: info.createdAt,
      startedAt: info.startedAt,
      stoppedAt: info.stoppedAt,
      deletedAt: info.deletedAt,
      failureReason: info.failureReason,
      stateHistory: info.stateHistory,
    };
  }
}

export class SandboxPage {
  @ApiProperty({ type: [SandboxView] }) items!: SandboxView[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

export class ErrorView {
  @ApiProperty({ example: 404 }) statusCode!: number;
  @ApiProperty({ example: 'SANDBOX_NOT_FOUND' }) code!: string;
  @ApiProperty({ example: 'sandbox abc does not exist' }) message!: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true }) details?: Record<
    string,
    unknown
  >;
  @ApiPropertyOptional({ description: 'Present on 5xx answers; the same id is in the log' })
  errorId?: string;
}
