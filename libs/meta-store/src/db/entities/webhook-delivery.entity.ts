import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumberTransformer } from '../bigint-number.transformer';
import { epochMsTransformer } from '../epoch-ms.transformer';

/**
 * One event to send to one webhook, until it succeeds or its retries run out. A replica claims
 * an attempt with a conditional UPDATE of the lease (`lease_until`, `lease_token`), so exactly one
 * sends it; a replica killed mid-attempt leaves a lease that expires, and the attempt is made again
 * (at least once). Deliveries of one sandbox to one webhook go in id order: a later one waits
 * while an earlier one is pending.
 */
@Entity('webhook_delivery')
@Index('IDX_webhook_delivery_due', ['status', 'nextAttemptAt'])
@Index('IDX_webhook_delivery_order', ['webhookId', 'sandboxId', 'id'])
export class WebhookDeliveryEntity {
  /** A string as PostgreSQL's driver returns int8 (SQLite returns a number): Number() it. */
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string | number;

  @Column({ name: 'webhook_id', type: 'varchar', length: 64 })
  webhookId!: string;

  /** The event's id in the log; null for a test delivery (POST /v1/webhooks/:id/test). */
  @Column({
    name: 'event_id',
    type: 'bigint',
    nullable: true,
    transformer: bigintNumberTransformer,
  })
  eventId!: number | null;

  /** The order key: a sandbox's deliveries go one after the other ('' for test deliveries). */
  @Column({ name: 'sandbox_id', type: 'varchar', length: 64 })
  sandboxId!: string;

  @Column({ name: 'event_type', type: 'varchar', length: 40 })
  eventType!: string;

  /** The exact body that is signed and sent. */
  @Column({ type: 'text' })
  payload!: string;

  /** `pending`, `succeeded`, or `failed` (every retry used). */
  @Column({ type: 'varchar', length: 16 })
  status!: string;

  @Column({ type: 'integer' })
  attempts!: number;

  @Column({ name: 'next_attempt_at', type: 'bigint', transformer: epochMsTransformer })
  nextAttemptAt!: number;

  @Column({ name: 'lease_until', type: 'bigint', nullable: true, transformer: epochMsTransformer })
  leaseUntil!: number | null;

  @Column({ name: 'lease_token', type: 'varchar', length: 64, nullable: true })
  leaseToken!: string | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMsTransformer })
  createdAt!: number;
}
