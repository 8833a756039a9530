import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { SandboxInfo, SandboxOperation, SandboxState, SealedSandboxSpec } from '@app/domain';
import { bigintNumberTransformer } from '../bigint-number.transformer';
import { epochMsTransformer } from '../epoch-ms.transformer';
import { lenientJson } from '../lenient-json';
import { AUTO_STOP_WHERE, DUE_DELETE_WHERE, LIVE_NAME_WHERE } from '../lifecycle-predicates';

/**
 * The `tenant` column's value for a sandbox without a tenant (info.tenant null). Not NULL: both
 * drivers treat NULLs as distinct in a unique index, so (tenant, name) would let two tenant-less
 * sandboxes share a name; '' is no tenant name (TENANT_NAME_PATTERN needs a character).
 */
export const NO_TENANT = '';

/**
 * One sandbox. `info` is the full SandboxInfo snapshot (what reads return); the scalar columns
 * mirror the fields that queries filter on, so they can be indexed on both databases. `spec` and
 * `machine_snapshot` are DB-only and never leave the store through a read of SandboxInfo.
 */
@Entity('sandbox_table')
// Names are unique per tenant: a name another tenant took is neither refused nor revealed.
@Index('UQ_sandbox_table_tenant_live_name', ['tenant', 'name'], {
  unique: true,
  where: LIVE_NAME_WHERE,
})
// A tenant's list, in id order (keyset pages).
@Index('IDX_sandbox_table_tenant', ['tenant', 'id'])
// What a tenant holds, for its limits: one range per held state (deleted rows are never read)
// and covering, so the sums read the index alone. Not partial: a `state <> 'deleted'` index
// would be a whole-table shortcut the planner takes for every list, over better indexes.
@Index('IDX_sandbox_table_tenant_usage', ['tenant', 'state', 'cpus', 'memoryBytes'])
@Index('IDX_sandbox_table_operation_in_flight', ['id'], { where: `"operation" IS NOT NULL` })
@Index('IDX_sandbox_table_due_delete', ['autoDeleteAt', 'id'], { where: DUE_DELETE_WHERE })
@Index('IDX_sandbox_table_auto_stop_at', ['autoStopAt'], { where: AUTO_STOP_WHERE })
// PostgreSQL's GIN index of (labels::jsonb), made by its migration (TypeORM cannot express it).
@Index('IDX_sandbox_table_labels', { synchronize: false })
export class SandboxEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 128, nullable: true })
  name!: string | null;

  /** info.tenant, or NO_TENANT for none: what scoped reads, lists and usage filter on. */
  @Column({ type: 'varchar', length: 64, default: NO_TENANT })
  tenant!: string;

  @Index('IDX_sandbox_table_state')
  @Column({ type: 'varchar', length: 16 })
  state!: SandboxState;

  @Column({ type: 'varchar', length: 16, nullable: true })
  operation!: SandboxOperation | null;

  @Index('IDX_sandbox_table_image')
  @Column({ type: 'varchar', length: 512 })
  image!: string;

  @Column({ type: 'simple-json' })
  labels!: Record<string, string>;

  @Column({ name: 'instance_id', type: 'varchar', length: 64 })
  instanceId!: string;

  /** info.node: '' on a single host, else the Swarm node whose engine holds the container. */
  @Column({ type: 'varchar', length: 64, default: '' })
  node!: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMsTransformer })
  createdAt!: number;

  @Column({ name: 'started_at', type: 'bigint', nullable: true, transformer: epochMsTransformer })
  startedAt!: number | null;

  @Column({ name: 'stopped_at', type: 'bigint', nullable: true, transformer: epochMsTransformer })
  stoppedAt!: number | null;

  @Column({ name: 'deleted_at', type: 'bigint', nullable: true, transformer: epochMsTransformer })
  deletedAt!: number | null;

  /** info.autoStopAt, for rebuilding the key-value store's deadline index. */
  @Column({ name: 'auto_stop_at', type: 'bigint', nullable: true, transformer: epochMsTransformer })
  autoStopAt!: number | null;

  /** info.autoDeleteAt; the due-delete scan reads it through a partial index. */
  @Column({
    name: 'auto_delete_at',
    type: 'bigint',
    nullable: true,
    transformer: epochMsTransformer,
  })
  autoDeleteAt!: number | null;

  /** info.protected: excluded from auto-delete. */
  @Column({ type: 'boolean', default: false })
  protected!: boolean;

  /**
   * info.cpus, so the usage counters' truth can be summed in SQL. 'float' is double precision on
   * PostgreSQL (whose driver returns it as a number) and REAL on SQLite; null means no CPU limit.
   */
  @Column({ type: 'float', nullable: true })
  cpus!: number | null;

  /** info.memoryBytes, summed like cpus; null means no memory limit. */
  @Column({
    name: 'memory_bytes',
    type: 'bigint',
    nullable: true,
    transformer: bigintNumberTransformer,
  })
  memoryBytes!: number | null;

  /** Env values sealed (sealedEnv); none once the sandbox is deleted. */
  // lenientJson: a row that is not JSON reads as its text, which the read schemas reject.
  @Column({ type: 'text', transformer: lenientJson })
  spec!: SealedSandboxSpec;

  @Column({ type: 'text', transformer: lenientJson })
  info!: SandboxInfo;

  @Column({ name: 'machine_snapshot', type: 'text', nullable: true, transformer: lenientJson })
  machineSnapshot!: unknown;

  @Column({ name: 'machine_version', type: 'varchar', length: 32 })
  machineVersion!: string;

  /** Optimistic lock, managed by the store (UPDATE … WHERE version = expected), not by TypeORM. */
  @Column({ type: 'integer' })
  version!: number;
}
