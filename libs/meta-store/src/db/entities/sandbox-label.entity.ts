import { Entity, Index, PrimaryColumn, Column } from 'typeorm';

/**
 * One label of a sandbox, as rows so label filters use an index on PostgreSQL and SQLite alike
 * (JSON containment operators differ between the two). Rows are written with the sandbox row.
 */
@Entity('sandbox_label')
@Index('IDX_sandbox_label_key_value', ['key', 'value'])
export class SandboxLabelEntity {
  @PrimaryColumn({ name: 'sandbox_id', type: 'varchar', length: 64 })
  sandboxId!: string;

  @PrimaryColumn({ type: 'varchar', length: 128 })
  key!: string;

  @Column({ type: 'varchar', length: 512 })
  value!: string;
}
