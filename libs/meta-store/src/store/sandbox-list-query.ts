import { validationError } from '@app/config';
import { EntityManager, SelectQueryBuilder } from 'typeorm';
import { SandboxEntity } from '../db/entities/sandbox.entity';
import { SandboxLabelEntity } from '../db/entities/sandbox-label.entity';
import { decodeCursor } from './cursor';
import type { ListSandboxesQuery } from './meta-store.types';

/**
 * The SELECT behind list(): filters, keyset pagination on id (ids are time-sortable, so pages are
 * stable while sandboxes are created) and one extra row to tell whether another page exists.
 * Each label pair is an inner join on sandbox_label, which its (key, value) index serves on both
 * databases; the (sandbox_id, key) primary key guarantees at most one match per join.
 */
export function buildListQuery(
  manager: EntityManager,
  query: ListSandboxesQuery,
): SelectQueryBuilder<SandboxEntity> {
  if (!Number.isInteger(query.limit) || query.limit < 1) {
    throw validationError('limit', 'must be a positive integer');
  }
  const qb = manager.createQueryBuilder(SandboxEntity, 's');

  Object.entries(query.labels ?? {}).forEach(([key, value], index) => {
    const alias = `l${index}`;
    qb.innerJoin(
      SandboxLabelEntity,
      alias,
      `${alias}.sandboxId = s.id AND ${alias}.key = :${alias}k AND ${alias}.value = :${alias}v`,
      { [`${alias}k`]: key, [`${alias}v`]: value },
    );
  });

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
