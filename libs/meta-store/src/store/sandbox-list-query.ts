import { validationError } from '@app/config';
import { Brackets, EntityManager, SelectQueryBuilder } from 'typeorm';
import { SandboxEntity } from '../db/entities/sandbox.entity';
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
 * Sandboxes carrying every one of the label pairs, as `s.id IN (one grouped subquery)`: the label
 * rows matching any pair (found through the (key, value) index), grouped by sandbox, kept where
 * all pairs matched. The (sandbox_id, key) primary key allows one row per key and sandbox, and
 * the pairs have distinct keys, so COUNT(*) = the number of pairs means all of them matched.
 *
 * One join per pair, the shape before, hit SQLite's limit of 64 tables in a join at 64 pairs
 * (a 500) and had PostgreSQL's planner weigh join orders for seconds; this shape has one table
 * in its subquery whatever the count (bench/label-filters.bench.ts compares them).
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
  const matching = qb
    .subQuery()
    .select('l.sandboxId')
    .from(SandboxLabelEntity, 'l')
    .where(pairs)
    .groupBy('l.sandboxId')
    .having('COUNT(*) = :labelCount', { labelCount: labels.length })
    .getQuery();
  qb.andWhere(`s.id IN ${matching}`);
}
