import { Column } from 'typeorm';
import { bigintNumberTransformer } from '../bigint-number.transformer';

/**
 * The four amounts a usage counter counts, as columns: a counter row (ResourceUsageEntity) and a
 * create's hold on one (UsageHoldEntity) carry the same, so the same SQL adds one to the other.
 * CPUs in nano-CPUs (integers: sums never drift the way floats do).
 */
export abstract class UsageAmountColumns {
  @Column({ type: 'bigint', transformer: bigintNumberTransformer })
  sandboxes!: number;

  @Column({ name: 'live_sandboxes', type: 'bigint', transformer: bigintNumberTransformer })
  liveSandboxes!: number;

  @Column({ name: 'cpu_nanos', type: 'bigint', transformer: bigintNumberTransformer })
  cpuNanos!: number;

  @Column({ name: 'memory_bytes', type: 'bigint', transformer: bigintNumberTransformer })
  memoryBytes!: number;
}
