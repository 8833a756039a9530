import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumberTransformer } from '../bigint-number.transformer';
import { epochMsTransformer } from '../epoch-ms.transformer';

/**
 * A tenant's limits on what it holds at once (see TenantLimits). A tenant without a row has no
 * limits; a row whose limits are all NULL is kept (it says when they were last set).
 */
@Entity('tenant_limits')
export class TenantLimitsEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  tenant!: string;

  @Column({ name: 'max_sandboxes', type: 'integer', nullable: true })
  maxSandboxes!: number | null;

  /** double precision on PostgreSQL, REAL on SQLite, like sandbox_table.cpus. */
  @Column({ name: 'max_cpus', type: 'float', nullable: true })
  maxCpus!: number | null;

  @Column({
    name: 'max_memory_bytes',
    type: 'bigint',
    nullable: true,
    transformer: bigintNumberTransformer,
  })
  maxMemoryBytes!: number | null;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMsTransformer })
  updatedAt!: number;
}
