import { validationError } from '@app/domain';
import { Brackets, EntityManager, SelectQueryBuilder } from 'typeorm';
import { SandboxEntity } from '../db/entities/sandbox.entity';
import { tenantColumn } from './sandbox-row';
import { SandboxLabelEntity } from '../db/entities/sandbox-label.entity';
import { decodeCursor } from './cursor';
import type { ListSandboxesQuery } from './meta-store.types';

/**
 * The SELECT behind list(): filters, keyset pagination on id (ids are time-sortable, so pages are
 * stable while sandboxes are created) and one extra row to tell whether another page exists.
 * The label filter is one grouped subquery (labelFilter) whatever the number of pairs.
 */
export function buildListQuery(
  manager: EntityManager,
  query: ListSandboxesQuery,
): SelectQueryBuilder<SandboxEntity> {
  if (!Number.isInteger(query.limit) || query.limit < 1) {
    throw validationError('limit', 'must be a positive integer');
  }
  const qb = manager.createQueryBuilder(SandboxEntity, 's');
  // With the id order of the page, answered by IDX_sandbox_table_tenant (tenant, id).
  if (query.tenant !== undefined) {
    qb.andWhere('s.tenant = :tenant', { tenant: tenantColumn(query.tenant) });
  }

  const labels = Object.entries(query.labels ?? {});
  if (labels.length > 0) labelFilter(qb, labels);

  const states = query.states ?? [];
  if (states.length > 0) {
    qb.andWhere('s.state IN (:...states)', { states });
  } else if (query.includeDeleted !== true) {
    qb.andWhere('s.state <> :deleted', { deleted: 'deleted' });
  }
  if (query.image !== undefined) qb.andWhere('s.image = :image', { image: query.image });
  if (query.cursor !== undefined) {
    qb.andWhere('s.id > :after', { after: decodeCursor(query.cursor) });
  }

  return qb.orderBy('s.id', 'ASC').limit(query.limit + 1);
}

/**
 * From this many pairs the grouped subquery is not used: most of many pairs are common ones, whose
 * rows it would all read and group. PostgreSQL then asks its GIN index of labels (containment),
 * SQLite lets each candidate sandbox (in id order) count its own matching rows until the page is
 * full. Few pairs are usually selective (run=xyz), where the grouped subquery reads a handful of
 * rows, faster than either.
 */
export const MANY_PAIRS = 5;

/**
 * Sandboxes carrying every one of the label pairs, with at most one table in the filter whatever
 * the number of pairs. The (sandbox_id, key) primary key allows one row per key and sandbox, and the
 * pairs have distinct keys, so COUNT(*) = the number of pairs means all of them matched:
 *
 *   grouped     s.id IN (SELECT sandbox_id FROM sandbox_label WHERE <any pair>
 *                        GROUP BY sandbox_id HAVING COUNT(*) = n), the rows found through the
 *               (key, value) index;
 *   correlated  (SELECT COUNT(*) FROM sandbox_label WHERE sandbox_id = s.id AND <any pair>) = n,
 *               through the primary key, stopping once the page is full (SQLite, many pairs);
 *   containment labels::jsonb @> {pairs}, through IDX_sandbox_table_labels (PostgreSQL, many
 *               pairs).
 *
 * One join per pair, the shape before, hit SQLite's limit of 64 tables in a join at 64 pairs
 * (a 500) and had PostgreSQL's planner weigh join orders for seconds (bench/label-filters.bench.ts
 * compares the shapes).
 */
function labelFilter(qb: SelectQueryBuilder<SandboxEntity>, labels: [string, string][]): void {
  const pairs = new Brackets((where) => {
    labels.forEach(([key, value], index) => {
      where.orWhere(`(l.key = :lk${index} AND l.value = :lv${index})`, {
        [`lk${index}`]: key,
        [`lv${index}`]: value,
      });
    });
  });
  const postgres = qb.connection.options.type === 'postgres';
  if (postgres && labels.length >= MANY_PAIRS) {
    // The expression of IDX_sandbox_table_labels, term for term, so the planner can use it.
    qb.andWhere('(s.labels)::jsonb @> CAST(:labelJson AS jsonb)', {
      labelJson: JSON.stringify(Object.fromEntries(labels)),
    });
    return;
  }
  qb.setParameter('labelCount', labels.length);
  if (!postgres && labels.length >= MANY_PAIRS) {
    const count = qb
      .subQuery()
      .select('COUNT(*)')
      .from(SandboxLabelEntity, 'l')
      .where('l.sandbox_id = s.id')
      .andWhere(pairs)
      .getQuery();
    qb.andWhere(`${count} = :labelCount`);
    return;
  }
  const matching = qb
    .subQuery()
    .select('l.sandboxId')
    .from(SandboxLabelEntity, 'l')
    .where(pairs)
    .groupBy('l.sandboxId')
    .having('COUNT(*) = :labelCount')
    .getQuery();
  qb.andWhere(`s.id IN ${matching}`);
}
