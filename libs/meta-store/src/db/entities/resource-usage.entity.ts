import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumberTransformer } from '../bigint-number.transformer';
import { epochMsTransformer } from '../epoch-ms.transformer';

/**
 * Usage counters, one row per scope: `host` (what the live sandboxes commit on the engine host)
 * and `tenant:<name>` (what a tenant holds: its sandboxes that are not deleted). They are kept
 * equal to the sums over the sandbox rows by every write of a row, in that write's transaction
 * (see usage-counters.ts), so a create reserves its share with one conditional UPDATE of a row
 * instead of summing the table under a cluster-wide lock. CPUs are counted in nano-CPUs (integer:
 * sums never drift the way floats do).
 */
@Entity('resource_usage')
export class ResourceUsageEntity {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  scope!: string;

  /** host: live sandboxes; tenant: sandboxes that are not deleted. */
  @Column({ type: 'bigint', transformer: bigintNumberTransformer })
  sandboxes!: number;

  /** Of those, the pending and running ones (the same as `sandboxes` for the host). */
  @Column({ name: 'live_sandboxes', type: 'bigint', transformer: bigintNumberTransformer })
  liveSandboxes!: number;

  /** Sum of their CPU limits × 1e9, each rounded to a nano-CPU; a sandbox without one adds 0. */
  @Column({ name: 'cpu_nanos', type: 'bigint', transformer: bigintNumberTransformer })
  cpuNanos!: number;

  /** Sum of their memory limits in bytes; a sandbox without one adds 0. */
  @Column({ name: 'memory_bytes', type: 'bigint', transformer: bigintNumberTransformer })
  memoryBytes!: number;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMsTransformer })
  updatedAt!: number;
}
