import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { epochMsTransformer } from '../epoch-ms.transformer';

/**
 * One lifecycle event: the event log and the webhooks' outbox. Written in the same transaction as
 * the sandbox change it records (SandboxDb.updateVersioned, insert). `id` is the log's order:
 * PostgreSQL hands it out under a transaction-scoped advisory lock, so ids commit in order; on
 * SQLite (one connection) they always do. AUTOINCREMENT on SQLite: an id is never reused, even
 * once retention has pruned every row.
 */
@Entity('sandbox_event')
@Index('IDX_sandbox_event_sandbox', ['sandboxId', 'id'])
@Index('IDX_sandbox_event_tenant', ['tenant', 'id'])
export class SandboxEventEntity {
  /** A string as PostgreSQL's driver returns int8 (SQLite returns a number): Number() it. */
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string | number;

  @Column({ type: 'varchar', length: 40 })
  type!: string;

  @Column({ name: 'sandbox_id', type: 'varchar', length: 64 })
  sandboxId!: string;

  @Column({ type: 'varchar', length: 128, nullable: true })
  tenant!: string | null;

  @Index('IDX_sandbox_event_at')
  @Column({ type: 'bigint', transformer: epochMsTransformer })
  at!: number;

  /** The event as JSON, without its id (NewSandboxEvent). */
  @Column({ type: 'text' })
  payload!: string;
}
