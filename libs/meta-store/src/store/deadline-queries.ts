import { validationError } from '@app/domain';
import { EntityManager, SelectQueryBuilder } from 'typeorm';
import { SandboxEntity } from '../db/entities/sandbox.entity';
import { DUE_DELETE_WHERE } from '../db/lifecycle-predicates';

/**
 * The due-delete scan: ids of stopped, unprotected sandboxes whose delete deadline is at or before
 * `now` (epoch ms), oldest deadline first, ties by id, at most `limit`.
 *
 * The WHERE repeats the partial index's predicate verbatim (DUE_DELETE_WHERE) and adds only the
 * range bound on its leading column, and the ORDER BY is the index's column order: PostgreSQL reads
 * the first `limit` index entries and stops (an Index Only Scan, no sort). SQLite can use the
 * index because it finds the predicate's terms literally in the query; it prefers it once ANALYZE
 * statistics exist (without them it may read IDX_sandbox_table_state and sort, which is fine at
 * single-instance sizes).
 *
 * Separate from SandboxDb so the benchmark can run exactly this SQL.
 */
export function buildDueForAutoDeleteQuery(
  manager: EntityManager,
  now: number,
  limit: number,
  instanceId: string | null = null,
): SelectQueryBuilder<SandboxEntity> {
  if (!Number.isInteger(limit) || limit < 1) {
    throw validationError('limit', 'must be a positive integer');
  }
  if (!Number.isFinite(now)) throw validationError('now', 'must be a valid instant');
  const query = manager
    .createQueryBuilder(SandboxEntity, 's')
    .select('s.id', 'id')
    .where(DUE_DELETE_WHERE)
    .andWhere('"auto_delete_at" <= :now', { now });
  // Cluster mode: an instance deletes only what is on its own node's engine.
  if (instanceId !== null) query.andWhere('s.instance_id = :instanceId', { instanceId });
  return query.orderBy('"auto_delete_at"', 'ASC').addOrderBy('s.id', 'ASC').limit(limit);
}
