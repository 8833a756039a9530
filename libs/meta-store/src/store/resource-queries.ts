import { EntityManager, SelectQueryBuilder } from 'typeorm';
import { SandboxEntity } from '../db/entities/sandbox.entity';
import { LIVE_STATES, SANDBOX_STATES } from '@app/domain';

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

/** A tenant-usage row as the drivers return it (PostgreSQL: int8 and numeric as strings). */
export interface RawTenantUsage {
  sandboxes: string | number | null;
  liveSandboxes: string | number | null;
  cpus: string | number | null;
  memoryBytes: string | number | null;
}

/** The states a tenant's limits count: every state but deleted. */
export const HELD_STATES = SANDBOX_STATES.filter((state) => state !== 'deleted');

/**
 * COUNT and SUMs over the sandboxes `tenant` holds (not deleted). `tenant = ? AND state IN (held)`
 * is one range of IDX_sandbox_table_tenant_usage per held state, so deleted rows (a tenant's whole
 * history) are never read, and every column read is in the index: it is answered from the index
 * alone. Separate from SandboxDb so the migration test can check the plan of exactly this SQL.
 */
export function buildTenantUsageQuery(
  manager: EntityManager,
  tenant: string,
): SelectQueryBuilder<SandboxEntity> {
  return manager
    .createQueryBuilder(SandboxEntity, 's')
    .select('COUNT(*)', 'sandboxes')
    .addSelect('SUM(CASE WHEN s.state IN (:...live) THEN 1 ELSE 0 END)', 'liveSandboxes')
    .addSelect('SUM(s.cpus)', 'cpus')
    .addSelect('SUM(s.memoryBytes)', 'memoryBytes')
    .where('s.tenant = :tenant', { tenant })
    .andWhere('s.state IN (:...held)', { held: HELD_STATES, live: LIVE_STATES });
}
