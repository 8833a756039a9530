import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumberTransformer } from '../bigint-number.transformer';
import { epochMsTransformer } from '../epoch-ms.transformer';

/** One attempt of a delivery and how it ended: GET /v1/webhooks/:id/deliveries shows them. */
@Entity('webhook_attempt')
@Index('IDX_webhook_attempt_delivery', ['deliveryId', 'id'])
export class WebhookAttemptEntity {
  /** A string as PostgreSQL's driver returns int8 (SQLite returns a number): Number() it. */
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string | number;

  @Column({
    name: 'delivery_id',
    type: 'bigint',
    transformer: bigintNumberTransformer,
  })
  deliveryId!: number;

  @Column({ name: 'webhook_id', type: 'varchar', length: 64 })
  webhookId!: string;

  @Column({ type: 'integer' })
  attempt!: number;

  @Column({ type: 'bigint', transformer: epochMsTransformer })
  at!: number;

  /** The receiver's HTTP status; null when none came (refused address, timeout, reset). */
  @Column({ name: 'status_code', type: 'integer', nullable: true })
  statusCode!: number | null;

  /** Why it did not succeed; null for a 2xx. */
  @Column({ type: 'varchar', length: 512, nullable: true })
  error!: string | null;

  @Column({ name: 'duration_ms', type: 'integer' })
  durationMs!: number;
}
