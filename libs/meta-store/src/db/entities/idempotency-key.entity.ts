import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMsTransformer } from '../epoch-ms.transformer';

/**
 * A client's Idempotency-Key for a create. The primary key makes concurrent retries race-safe: only
 * one insert of a key can commit; the others re-read it and answer with the same sandbox.
 */
@Entity('idempotency_key')
export class IdempotencyKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 255 })
  key!: string;

  /** Hash of the request body: the same key with a different body is a conflict, not a replay. */
  @Column({ type: 'varchar', length: 128 })
  fingerprint!: string;

  @Column({ name: 'sandbox_id', type: 'varchar', length: 64 })
  sandboxId!: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMsTransformer })
  createdAt!: number;
}
