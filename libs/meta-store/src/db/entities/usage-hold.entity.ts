import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMsTransformer } from '../epoch-ms.transformer';
import { UsageAmountColumns } from './usage-amount-columns';

/**
 * A create's share of one usage counter, taken before its sandbox row exists (PostgreSQL only;
 * see usage-holds.ts). The counter already includes it; the insert that follows deletes it in its
 * own transaction, so at every moment the share is counted once: as a hold or as the row. A hold
 * no insert came for (the process died in between) is expired by the reconcile pass.
 */
@Entity('usage_hold')
export class UsageHoldEntity extends UsageAmountColumns {
  @PrimaryColumn({ name: 'sandbox_id', type: 'varchar', length: 64 })
  sandboxId!: string;

  /** The counter row (`host` or `tenant:<name>`). */
  @PrimaryColumn({ type: 'varchar', length: 128 })
  scope!: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMsTransformer })
  createdAt!: number;
}
