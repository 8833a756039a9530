import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { SandboxEventRecord, SandboxEventType } from '@app/domain';
import { DataSource } from 'typeorm';
import { SandboxEventEntity } from '../db/entities/sandbox-event.entity';
import { DbGate } from '../store/db-gate';
import { eventOfRow } from './event-rows';

export interface EventLogQuery {
  /** Only events with a greater id (a previous page's last id, or Last-Event-ID). */
  afterId?: number;
  /** Only these types (none or empty: all). */
  types?: readonly SandboxEventType[];
  sandboxId?: string;
  /** Only this tenant's events (a tenant key's view); undefined: every tenant's. */
  tenant?: string;
  limit: number;
}

/**
 * Reads of the event log (the rows SandboxDb writes with each change): pages in id order, the
 * newest id, and the retention prune. Ids are numbers here (a 64-bit sequence, far below 2^53 in
 * any real log); the API shows them as decimal strings.
 */
@Injectable()
export class SandboxEventLog {
  private readonly gate: DbGate;

  constructor(@InjectDataSource() dataSource: DataSource) {
    this.gate = new DbGate(dataSource);
  }

  list(query: EventLogQuery): Promise<SandboxEventRecord[]> {
    return this.gate.run(async (manager) => {
      const qb = manager
        .createQueryBuilder(SandboxEventEntity, 'e')
        .select('e.id', 'id')
        .addSelect('e.payload', 'payload')
        .where('e.id > :after', { after: query.afterId ?? 0 });
      if (query.types !== undefined && query.types.length > 0) {
        qb.andWhere('e.type IN (:...types)', { types: [...query.types] });
      }
      if (query.sandboxId !== undefined) {
        qb.andWhere('e.sandboxId = :sandboxId', { sandboxId: query.sandboxId });
      }
      if (query.tenant !== undefined) qb.andWhere('e.tenant = :tenant', { tenant: query.tenant });
      const rows = await qb
        .orderBy('e.id', 'ASC')
        .limit(query.limit)
        .getRawMany<{ id: number | string; payload: string }>();
      return rows.map(eventOfRow);
    });
  }

  /** The id of the newest event, 0 for an empty log. */
  latestId(): Promise<number> {
    return this.gate.run(async (manager) => {
      const raw = await manager
        .createQueryBuilder(SandboxEventEntity, 'e')
        .select('MAX(e.id)', 'max')
        .getRawOne<{ max: number | string | null }>();
      return Number(raw?.max ?? 0);
    });
  }

  /**
   * Deletes up to `batch` events older than `before` (epoch ms), oldest first; returns how many.
   * Batched so a large backlog never holds SQLite's one connection for long.
   */
  prune(before: number, batch: number): Promise<number> {
    return this.gate.run(async (manager) => {
      const ids = await manager
        .createQueryBuilder(SandboxEventEntity, 'e')
        .select('e.id', 'id')
        .where('e.at < :before', { before })
        .orderBy('e.id', 'ASC')
        .limit(batch)
        .getRawMany<{ id: number | string }>();
      if (ids.length === 0) return 0;
      await manager
        .createQueryBuilder()
        .delete()
        .from(SandboxEventEntity)
        .where('id IN (:...ids)', { ids: ids.map((row) => Number(row.id)) })
        .execute();
      return ids.length;
    });
  }
}
