import { EntityManager, SelectQueryBuilder } from 'typeorm';
import { SandboxEntity } from '../db/entities/sandbox.entity';
import { LIVE_STATES, SANDBOX_STATES } from '@app/domain';

/**
 * A usage row summed over sandbox rows as the drivers return it (PostgreSQL: int8 and numeric as
 * strings); `tenant` only in the per-tenant rows.
 */
export interface RawUsage {
  tenant?: string;
  node?: string;
  sandboxes: string | number | null;
  liveSandboxes: string | number | null;
  cpuNanos: string | number | null;
  memoryBytes: string | number | null;
}

/** The states a tenant's limits count: every state but deleted. */
export const HELD_STATES = SANDBOX_STATES.filter((state) => state !== 'deleted');

/**
 * SUM of the per-row nano-CPUs, as the usage counters add them (each row rounded, then summed, so
 * the order in which a database adds floats cannot change the total). NULL limits are skipped by
 * SUM, i.e. a sandbox without a limit adds 0; SUM over no rows is NULL, which reads as 0.
 */
const CPU_NANOS_SUM = 'SUM(CAST(ROUND(s.cpus * 1000000000) AS BIGINT))';

/**
 * The truth of the host's usage counter: COUNT and SUMs over the live (pending, running) rows of
 * the single host (node ''; a cluster node's rows are its own counter's).
 * `state IN (…)` is answered from IDX_sandbox_table_state, so the cost follows the number of live
 * sandboxes, not the deleted history. Separate from the store so the migration test can check the
 * plan of exactly this SQL.
 */
export function buildCommittedResourcesQuery(
  manager: EntityManager,
): SelectQueryBuilder<SandboxEntity> {
  return manager
    .createQueryBuilder(SandboxEntity, 's')
    .select('COUNT(*)', 'sandboxes')
    .addSelect('COUNT(*)', 'liveSandboxes')
    .addSelect(CPU_NANOS_SUM, 'cpuNanos')
    .addSelect('SUM(s.memoryBytes)', 'memoryBytes')
    .where('s.state IN (:...live)', { live: LIVE_STATES })
    .andWhere("s.node = ''");
}

/**
 * The truth of every cluster node's usage counter (CLUSTER=swarm), one row per node: what the
 * live rows placed on it commit. Like the host's, answered from IDX_sandbox_table_state.
 */
export function buildNodeUsageQuery(manager: EntityManager): SelectQueryBuilder<SandboxEntity> {
  return manager
    .createQueryBuilder(SandboxEntity, 's')
    .select('s.node', 'node')
    .addSelect('COUNT(*)', 'sandboxes')
    .addSelect('COUNT(*)', 'liveSandboxes')
    .addSelect(CPU_NANOS_SUM, 'cpuNanos')
    .addSelect('SUM(s.memoryBytes)', 'memoryBytes')
    .where('s.state IN (:...live)', { live: LIVE_STATES })
    .andWhere("s.node <> ''")
    .groupBy('s.node');
}

/**
 * The truth of every tenant's usage counter, one row per tenant: COUNT and SUMs over its held
 * (not deleted) rows. `state IN (held)` ranges of IDX_sandbox_table_tenant_usage (tenant, state,
 * cpus, memory_bytes) hold every column read, so it is answered from that index, and deleted rows
 * (the tenants' whole history) are not summed. Separate from the store so the migration test can
 * check the plan of exactly this SQL.
 */
export function buildTenantUsageQuery(manager: EntityManager): SelectQueryBuilder<SandboxEntity> {
  return manager
    .createQueryBuilder(SandboxEntity, 's')
    .select('s.tenant', 'tenant')
    .addSelect('COUNT(*)', 'sandboxes')
    .addSelect('SUM(CASE WHEN s.state IN (:...live) THEN 1 ELSE 0 END)', 'liveSandboxes')
    .addSelect(CPU_NANOS_SUM, 'cpuNanos')
    .addSelect('SUM(s.memoryBytes)', 'memoryBytes')
    .where("s.tenant <> ''")
    .andWhere('s.state IN (:...held)', { held: HELD_STATES, live: LIVE_STATES })
    .groupBy('s.tenant');
}
