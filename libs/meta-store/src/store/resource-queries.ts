import { EntityManager, SelectQueryBuilder } from 'typeorm';
import { SandboxEntity } from '../db/entities/sandbox.entity';
import { LIVE_STATES } from '@app/domain';

/** A committed-resources row as the drivers return it (PostgreSQL: int8 and numeric as strings). */
export interface RawCommittedResources {
  sandboxes: string | number | null;
  cpus: string | number | null;
  memoryBytes: string | number | null;
}

/**
 * COUNT and SUMs over the live (pending, running) rows. `state IN (…)` is answered from
 * IDX_sandbox_table_state, so the cost follows the number of live sandboxes, not the deleted
 * history. NULL limits are skipped by SUM, i.e. a sandbox without a limit adds 0; SUM over no rows
 * is NULL, which the caller reads as 0.
 *
 * Separate from SandboxDb so the migration test can check the plan of exactly this SQL.
 */
export function buildCommittedResourcesQuery(
  manager: EntityManager,
): SelectQueryBuilder<SandboxEntity> {
  return manager
    .createQueryBuilder(SandboxEntity, 's')
    .select('COUNT(*)', 'sandboxes')
    .addSelect('SUM(s.cpus)', 'cpus')
    .addSelect('SUM(s.memoryBytes)', 'memoryBytes')
    .where('s.state IN (:...live)', { live: LIVE_STATES });
}
