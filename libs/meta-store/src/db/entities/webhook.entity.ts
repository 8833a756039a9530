import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumberTransformer } from '../bigint-number.transformer';
import { epochMsTransformer } from '../epoch-ms.transformer';

/**
 * A webhook endpoint. Its secret signs every delivery, so it is kept sealed (SecretsKeyring), not
 * hashed. `cursor` is the last event id fanned out into its deliveries: advanced with them in one
 * transaction, conditionally, so each event becomes one delivery per webhook whatever the replicas
 * do.
 */
@Entity('webhook')
export class WebhookEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 2048 })
  url!: string;

  /** The event types it receives (JSON array); null for all. */
  @Column({ type: 'text', nullable: true })
  events!: string | null;

  @Column({ type: 'varchar', length: 512, nullable: true })
  description!: string | null;

  @Column({ name: 'sealed_secret', type: 'text' })
  sealedSecret!: string;

  /** A tenant's webhook receives only its tenant's events; null: every event. */
  @Column({ type: 'varchar', length: 128, nullable: true })
  tenant!: string | null;

  @Column({ type: 'bigint', transformer: bigintNumberTransformer })
  cursor!: number;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMsTransformer })
  createdAt!: number;
}
