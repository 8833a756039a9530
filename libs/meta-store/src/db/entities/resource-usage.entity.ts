import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMsTransformer } from '../epoch-ms.transformer';
import { UsageAmountColumns } from './usage-amount-columns';

/**
 * Usage counters, one row per scope: `host` (what the live sandboxes commit on the engine host)
 * and `tenant:<name>` (what a tenant holds: its sandboxes that are not deleted). They are kept
 * equal to the sums over the sandbox rows by every write of a row, in that write's transaction
 * (see usage-counters.ts), so a create reserves its share with one conditional UPDATE of a row
 * instead of summing the table under a cluster-wide lock. CPUs are counted in nano-CPUs (integer:
 * sums never drift the way floats do).
 */
@Entity('resource_usage')
export class ResourceUsageEntity extends UsageAmountColumns {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  scope!: string;

  /** host: live sandboxes; tenant: sandboxes that are not deleted. */
  /** Of those, the pending and running ones (the same as `sandboxes` for the host). */
  /** Sum of their CPU limits × 1e9, each rounded to a nano-CPU; a sandbox without one adds 0. */
  /** Sum of their memory limits in bytes; a sandbox without one adds 0. */
  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMsTransformer })
  updatedAt!: number;
}
