import { CodedError, LIVE_STATES, SANDBOX_STATES } from '@app/domain';
import { DataSource, EntityManager, In, IsNull, MoreThan, Not } from 'typeorm';
import { isUniqueViolation } from '../db/db-errors';
import { insertEvents } from '../events/event-rows';
import { IdempotencyKeyEntity } from '../db/entities/idempotency-key.entity';
import { SandboxAccessTokenEntity } from '../db/entities/sandbox-access-token.entity';
import { SandboxEntity } from '../db/entities/sandbox.entity';
import { SandboxLabelEntity } from '../db/entities/sandbox-label.entity';
import type { SecretsKeyring } from '../secrets/secrets-keyring';
import type {
  NewSandboxEvent,
  SandboxEventRecord,
  SandboxInfo,
  SandboxRecord,
  SandboxState,
  TenantUsage,
} from '@app/domain';
import { encodeCursor } from './cursor';
import { buildDueForAutoDeleteQuery } from './deadline-queries';
import { DbGate } from './db-gate';
import type {
  IdempotencyInput,
  InsertSandboxInput,
  ListSandboxesQuery,
  SandboxPage,
  TenantScope,
} from './meta-store.types';
import {
  applyUsageDeltas,
  findUsageDrift,
  readUsage,
  reconcileUsage,
  reserveUsage,
} from './usage-counters';
import type { UsageDrift } from './usage-counters';
import { consumeHolds, releaseHolds, takeHolds } from './usage-holds';
import type { CountedRow } from './usage-contribution';
import {
  HOST_SCOPE,
  NANOS_PER_CPU,
  nodeScope,
  tenantScope,
  usageDelta,
} from './usage-contribution';
import { buildListQuery } from './sandbox-list-query';
import { SandboxInfoQueries, infoFromRaw } from './sandbox-read-queries';
import type { RawInfoRow } from './sandbox-read-queries';
import {
  COLUMN_LIMITS,
  assertMaxLength,
  buildLabelRows,
  buildSandboxRow,
  sandboxColumnValues,
  readableRecords,
  tenantColumn,
  sameLabels,
  skippingCorrupt,
  toSandboxRecord,
} from './sandbox-row';

/**
 * Ids per IN (…) list in batched lookups: far below the bind-parameter limits of both drivers
 * (PostgreSQL 65535, SQLite 32766), and small enough that each batch is one quick index lookup.
 */
export const LOAD_MANY_BATCH = 500;

/** A live sandbox's stop deadline as stored (epoch ms), for the key-value store's index. */
export interface AutoStopDeadline {
  id: string;
  state: SandboxState;
  autoStopAt: number | null;
}

/** What the live (pending, running) sandboxes hold, for quota checks. */
export interface CommittedResources {
  sandboxes: number;
  /** Sum of the CPU limits; a sandbox without one adds 0. */
  cpus: number;
  /** Sum of the memory limits in bytes; a sandbox without one adds 0. */
  memoryBytes: number;
}

/** How long an Idempotency-Key replays its sandbox; afterwards the key may be reused. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

/** The next state of a record, computed from the current one inside a versioned write. */
export type RecordChange = (current: SandboxRecord) => {
  info: SandboxInfo;
  machineSnapshot?: unknown;
};

/**
 * All SQL of the meta-store: the durable truth. Knows nothing about the cache. Uniqueness (live
 * names, idempotency keys) is enforced by constraints, so concurrent writers on any number of
 * instances are race-safe: the loser's unique violation is caught and explained by re-reading.
 */
export class SandboxDb {
  private readonly gate: DbGate;
  private readonly postgres: boolean;
  private readonly sandboxColumns: readonly string[];
  private readonly infoQueries: SandboxInfoQueries;

  constructor(
    dataSource: DataSource,
    private readonly keyring: SecretsKeyring,
  ) {
    this.gate = new DbGate(dataSource);
    this.postgres = dataSource.options.type === 'postgres';
    this.sandboxColumns = dataSource.getMetadata(SandboxEntity).columns.map((c) => c.propertyName);
    this.infoQueries = new SandboxInfoQueries(dataSource);
  }

  insert(
    input: InsertSandboxInput,
    now = Date.now(),
  ): Promise<{ record: SandboxRecord; created: boolean; events: SandboxEventRecord[] }> {
    return this.gate.run(async (manager) => {
      // Sealed before anything reaches the database: no env value is ever stored in clear.
      const row = buildSandboxRow(
        input.info,
        this.keyring.sealSpec(input.info.id, input.spec),
        input.machineSnapshot,
        input.machineVersion,
        1,
      );
      const labelRows = buildLabelRows(row.id, row.labels);
      const idempotency = input.idempotency;
      if (idempotency !== undefined) {
        assertMaxLength('idempotencyKey', idempotency.key, COLUMN_LIMITS.idempotencyKey);
        assertMaxLength('fingerprint', idempotency.fingerprint, COLUMN_LIMITS.fingerprint);
        const replayed = await this.replay(manager, idempotency, now);
        if (replayed !== null) return { record: replayed, created: false, events: [] };
      }
      let events: SandboxEventRecord[] = [];
      const deltas = usageDelta(null, row);
      const reservation = input.reservation;
      // PostgreSQL: the share is held before the transaction (usage-holds.ts), so no counter row
      // stays locked through it; SQLite writes one at a time and reserves inside it.
      const holding = reservation !== undefined && this.postgres;
      if (holding) await takeHolds(manager, row.id, deltas, reservation, now);
      try {
        await manager.transaction(async (tx) => {
          await tx.insert(SandboxEntity, sandboxColumnValues(row, this.sandboxColumns));
          if (labelRows.length > 0) await tx.insert(SandboxLabelEntity, labelRows);
          if (idempotency !== undefined) {
            // An expired key is released for reuse in the same transaction that takes it again.
            await tx
              .createQueryBuilder()
              .delete()
              .from(IdempotencyKeyEntity)
              .where('"key" = :key AND "created_at" <= :cutoff', {
                key: idempotency.key,
                cutoff: now - IDEMPOTENCY_WINDOW_MS,
              })
              .execute();
            await tx.insert(IdempotencyKeyEntity, {
              key: idempotency.key,
              fingerprint: this.keyring.fingerprint(idempotency.fingerprint),
              sandboxId: row.id,
              createdAt: now,
            });
          }
          if (holding) {
            // The holds become the row's share; one the reconcile pass expired is taken again.
            const consumed = await consumeHolds(tx, row.id);
            const expired = deltas.filter(([scope]) => !consumed.has(scope));
            if (expired.length > 0) await reserveUsage(tx, expired, reservation, now);
          } else if (reservation === undefined) {
            // The new row's share, taken late (the counter rows' locks are held until the
            // commit) and in lock order: host, tenant, then the event log.
            await applyUsageDeltas(tx, deltas, now);
          } else {
            // Refused: all of it rolls back.
            await reserveUsage(tx, deltas, reservation, now);
          }
          events = await insertEvents(tx, input.events ?? []);
        });
      } catch (error) {
        // Given back at once; if even that fails, the reconcile pass expires the holds.
        if (holding) await releaseHolds(manager, row.id, now).catch(() => undefined);
        if (!isUniqueViolation(error)) throw error;
        const record = await this.explainConflict(manager, input, now, error);
        return { record, created: false, events: [] };
      }
      return { record: toSandboxRecord(row), created: true, events };
    });
  }

  /**
   * By id (any state), else by name among the non-deleted sandboxes of the scope's namespace; only
   * the scope's tenant's sandboxes when it names one (see TenantScope).
   */
  load(idOrName: string, scope: TenantScope = null): Promise<SandboxRecord | null> {
    return this.gate.run(async (manager) => {
      const row =
        (await this.byId(manager, idOrName, scope)) ??
        (await this.byLiveName(manager, idOrName, scope));
      return row === null ? null : toSandboxRecord(row);
    });
  }

  /**
   * The public info only, for reads: what `load(idOrName, scope)?.info` is, without reading or
   * parsing the spec and the machine snapshot.
   */
  loadInfo(idOrName: string, scope: TenantScope = null): Promise<SandboxInfo | null> {
    return this.gate.run(async (manager) => {
      const q = this.infoQueries;
      const [byId] =
        scope === null
          ? await q.byId.run<RawInfoRow>(manager, { id: idOrName })
          : await q.byIdOfTenant.run<RawInfoRow>(manager, { id: idOrName, tenant: scope });
      const row =
        byId ??
        (
          await q.byLiveName.run<RawInfoRow>(manager, {
            tenant: tenantColumn(scope),
            name: idOrName,
          })
        )[0];
      return row === undefined ? null : infoFromRaw(row.info, idOrName);
    });
  }

  /**
   * Applies `change` to the stored record and writes it as version+1, only if the stored version
   * is still `expectedVersion` (checked again by the UPDATE itself, so a writer on another
   * instance between our read and our write is detected).
   */
  updateVersioned(
    id: string,
    expectedVersion: number,
    change: RecordChange,
    known?: SandboxRecord,
    eventsOf?: (info: SandboxInfo) => readonly NewSandboxEvent[],
  ): Promise<{ record: SandboxRecord; events: SandboxEventRecord[] }> {
    return this.gate.run(async (manager) => {
      const before = knownAt(known, id, expectedVersion) ?? (await this.current(manager, id));
      if (before.version !== expectedVersion) throw concurrentModification(id, expectedVersion);
      const next = change(before);
      const snapshot =
        next.machineSnapshot === undefined ? before.machineSnapshot : next.machineSnapshot;
      const info: SandboxInfo = { ...next.info, id };
      const row = buildSandboxRow(
        info,
        before.spec,
        snapshot,
        before.machineVersion,
        expectedVersion + 1,
      );
      const labelsChanged = !sameLabels(before.info.labels, row.labels);
      // A deleted sandbox keeps no access token, as its row keeps no env value.
      const deleting = row.state === 'deleted' && before.info.state !== 'deleted';
      // What the change moves on the usage counters (stop releases the host's share, a restart
      // takes it back, a delete releases the tenant's too); most writes move nothing. A restart
      // is not refused on a full host: the counter stays the truth, and the next create is.
      const deltas = usageDelta(countedOf(before.info), row);
      const record = toSandboxRecord(row);
      const newEvents = eventsOf?.(record.info) ?? [];
      let events: SandboxEventRecord[] = [];

      const write = async (tx: EntityManager): Promise<void> => {
        const values = sandboxColumnValues(row, this.sandboxColumns);
        delete values.id;
        const result = await tx
          .createQueryBuilder()
          .update(SandboxEntity)
          .set(values)
          .where('id = :id AND version = :expectedVersion', { id, expectedVersion })
          .execute();
        if (result.affected !== 1) throw concurrentModification(id, expectedVersion);
        if (labelsChanged) {
          await tx.delete(SandboxLabelEntity, { sandboxId: id });
          const labelRows = buildLabelRows(id, row.labels);
          if (labelRows.length > 0) await tx.insert(SandboxLabelEntity, labelRows);
        }
        if (deleting) await tx.delete(SandboxAccessTokenEntity, { sandboxId: id });
        // Late and in lock order (host, tenant), so their row locks are held only until the commit.
        await applyUsageDeltas(tx, deltas, Date.now());
        // Last, so PostgreSQL's event-log lock is held only until the commit that follows.
        events = await insertEvents(tx, newEvents);
      };
      // A single UPDATE is atomic by itself; label, token, counter and event rows need a
      // transaction with it.
      if (labelsChanged || deleting || deltas.length > 0 || newEvents.length > 0) {
        await manager.transaction(write);
      } else await write(manager);
      return { record, events };
    });
  }

  list(query: ListSandboxesQuery): Promise<SandboxPage> {
    return this.gate.run(async (manager) => {
      // Only what the page shows: the spec and the machine snapshot of each row are neither read
      // nor parsed, and raw rows skip TypeORM's entity hydration.
      const rows = await buildListQuery(manager, query)
        .select('s.id', 'id')
        .addSelect('s.info', 'info')
        .getRawMany<RawInfoRow & { id: string }>();
      const hasMore = rows.length > query.limit;
      const page = hasMore ? rows.slice(0, query.limit) : rows;
      return {
        // A corrupt row is left out of the page (and logged); the cursor still moves past it.
        items: page.flatMap((row) => skippingCorrupt(() => infoFromRaw(row.info, row.id))),
        nextCursor: hasMore ? encodeCursor(page[page.length - 1].id) : null,
      };
    });
  }

  listWithOperationInFlight(): Promise<SandboxRecord[]> {
    return this.gate.run(async (manager) => {
      const rows = await manager.find(SandboxEntity, {
        where: { operation: Not(IsNull()) },
        order: { id: 'ASC' },
      });
      return readableRecords(rows);
    });
  }

  /** Up to `limit` records in the states, by id, after `afterId` (keyset paging). */
  listByStates(
    states: readonly SandboxState[],
    limit: number,
    afterId?: string,
  ): Promise<SandboxRecord[]> {
    if (states.length === 0 || limit <= 0) return Promise.resolve([]);
    const wanted = Math.floor(limit);
    return this.gate.run(async (manager) => {
      // A corrupt row is skipped; reading on past it keeps the page full, so a short page still
      // means the end to a caller that pages on (the reconciler).
      const records: SandboxRecord[] = [];
      let after = afterId;
      for (;;) {
        const take = wanted - records.length;
        const rows = await manager.find(SandboxEntity, {
          where: {
            state: In([...states]),
            ...(after === undefined ? {} : { id: MoreThan(after) }),
          },
          order: { id: 'ASC' },
          take,
        });
        records.push(...readableRecords(rows));
        if (rows.length < take || records.length >= wanted) return records;
        after = rows[rows.length - 1].id;
      }
    });
  }

  /** The records of the ids that exist, in the order of `ids` (duplicates once). */
  async loadMany(ids: readonly string[]): Promise<SandboxRecord[]> {
    const unique = [...new Set(ids)];
    const byId = new Map<string, SandboxRecord>();
    for (let start = 0; start < unique.length; start += LOAD_MANY_BATCH) {
      const batch = unique.slice(start, start + LOAD_MANY_BATCH);
      const rows = await this.gate.run((manager) =>
        manager.find(SandboxEntity, { where: { id: In(batch) } }),
      );
      for (const record of readableRecords(rows)) byId.set(record.info.id, record);
    }
    return unique.flatMap((id) => byId.get(id) ?? []);
  }

  /** Every instance that ever created a sandbox here (deleted ones included), sorted. */
  knownInstanceIds(): Promise<string[]> {
    return this.gate.run(async (manager) => {
      const rows = await manager
        .createQueryBuilder(SandboxEntity, 's')
        .select('DISTINCT s.instanceId', 'instanceId')
        .orderBy('"instanceId"', 'ASC')
        .getRawMany<{ instanceId: string }>();
      return rows.map((row) => row.instanceId);
    });
  }

  /**
   * Ids of stopped, unprotected sandboxes whose delete deadline has passed, oldest deadline first
   * (ties by id), answered from the partial index IDX_sandbox_table_due_delete.
   */
  dueForAutoDelete(now: number, limit: number, instanceId: string | null): Promise<string[]> {
    return this.gate.run(async (manager) => {
      const rows = await buildDueForAutoDeleteQuery(manager, now, limit, instanceId).getRawMany<{
        id: string;
      }>();
      return rows.map((row) => row.id);
    });
  }

  /**
   * One keyset page (by id) of live sandboxes with a stop deadline: what the auto-stop index of the
   * key-value store is rebuilt from.
   */
  liveAutoStopDeadlines(limit: number, afterId?: string): Promise<AutoStopDeadline[]> {
    return this.gate.run(async (manager) => {
      const qb = manager
        .createQueryBuilder(SandboxEntity, 's')
        .select(['s.id', 's.state', 's.autoStopAt'])
        .where('s.state IN (:...live)', { live: LIVE_STATES })
        .andWhere('s.autoStopAt IS NOT NULL');
      if (afterId !== undefined) qb.andWhere('s.id > :afterId', { afterId });
      const rows = await qb.orderBy('s.id', 'ASC').limit(limit).getMany();
      return rows.map(({ id, state, autoStopAt }) => ({ id, state, autoStopAt }));
    });
  }

  /** The stored state and stop deadline of each id that exists (for checking index entries). */
  async autoStopDeadlines(ids: readonly string[]): Promise<AutoStopDeadline[]> {
    const found: AutoStopDeadline[] = [];
    for (let start = 0; start < ids.length; start += LOAD_MANY_BATCH) {
      const batch = ids.slice(start, start + LOAD_MANY_BATCH);
      const rows = await this.gate.run((manager) =>
        manager.find(SandboxEntity, {
          select: { id: true, state: true, autoStopAt: true },
          where: { id: In(batch) },
        }),
      );
      for (const { id, state, autoStopAt } of rows) found.push({ id, state, autoStopAt });
    }
    return found;
  }

  countByState(): Promise<Record<SandboxState, number>> {
    return this.gate.run(async (manager) => {
      const rows = await manager
        .createQueryBuilder(SandboxEntity, 's')
        .select('s.state', 'state')
        .addSelect('COUNT(*)', 'count')
        .groupBy('s.state')
        .getRawMany<{ state: string; count: string | number }>();
      const counts = Object.fromEntries(SANDBOX_STATES.map((s) => [s, 0])) as Record<
        SandboxState,
        number
      >;
      for (const { state, count } of rows) {
        // PostgreSQL returns COUNT(*) as a string (int8).
        if (state in counts) counts[state as SandboxState] = Number(count);
      }
      return counts;
    });
  }

  /**
   * What the live sandboxes commit, from the host's usage counter row, or from the cluster node's
   * (`node`: a Swarm node id, CLUSTER=swarm).
   */
  committedResources(node: string | null = null): Promise<CommittedResources> {
    return this.gate.run(async (manager) => {
      const usage = await readUsage(manager, node === null ? HOST_SCOPE : nodeScope(node));
      return {
        sandboxes: usage.sandboxes,
        cpus: usage.cpuNanos / NANOS_PER_CPU,
        memoryBytes: usage.memoryBytes,
      };
    });
  }

  /** What `tenant` holds (its sandboxes that are not deleted), from its usage counter row. */
  tenantUsage(tenant: string): Promise<TenantUsage> {
    return this.gate.run(async (manager) => {
      const usage = await readUsage(manager, tenantScope(tenant));
      return {
        sandboxes: usage.sandboxes,
        liveSandboxes: usage.liveSandboxes,
        cpus: usage.cpuNanos / NANOS_PER_CPU,
        memoryBytes: usage.memoryBytes,
      };
    });
  }

  /** Sets every usage counter that differs from the sum over the rows; returns what it fixed. */
  reconcileUsage(now = Date.now()): Promise<UsageDrift[]> {
    return this.gate.run((manager) => reconcileUsage(manager, now));
  }

  /** The usage counters that differ from the sums over the rows (a look only). */
  usageDrift(): Promise<UsageDrift[]> {
    return this.gate.run((manager) => findUsageDrift(manager));
  }

  ping(): Promise<void> {
    return this.gate.run(async (manager) => {
      await manager.query('SELECT 1');
    });
  }

  /** The sandbox an unexpired key was used for; IDEMPOTENCY_CONFLICT if the request differs. */
  private async replay(
    manager: EntityManager,
    idempotency: IdempotencyInput,
    now: number,
  ): Promise<SandboxRecord | null> {
    const stored = await manager.findOneBy(IdempotencyKeyEntity, { key: idempotency.key });
    if (stored === null || stored.createdAt <= now - IDEMPOTENCY_WINDOW_MS) return null;
    if (stored.fingerprint !== this.keyring.fingerprint(idempotency.fingerprint)) {
      throw new CodedError(
        'IDEMPOTENCY_CONFLICT',
        'This Idempotency-Key was already used with a different request',
        { sandboxId: stored.sandboxId },
      );
    }
    const row = await this.byId(manager, stored.sandboxId, null);
    return row === null ? null : toSandboxRecord(row);
  }

  /**
   * Another writer committed first. Re-read to tell which constraint we lost on, in priority
   * order: the same idempotency key (a replay, not an error), then the live name.
   */
  private async explainConflict(
    manager: EntityManager,
    input: InsertSandboxInput,
    now: number,
    error: unknown,
  ): Promise<SandboxRecord> {
    if (input.idempotency !== undefined) {
      const replayed = await this.replay(manager, input.idempotency, now);
      if (replayed !== null) return replayed;
    }
    const name = input.info.name;
    if (name !== null && (await this.byLiveName(manager, name, input.info.tenant)) !== null) {
      throw new CodedError('NAME_CONFLICT', `A sandbox named ${name} already exists`, { name });
    }
    throw error;
  }

  /** The stored record, read for a versioned write whose caller did not pass it. */
  private async current(manager: EntityManager, id: string): Promise<SandboxRecord> {
    const row = await this.byId(manager, id, null);
    if (row === null) {
      throw new CodedError('SANDBOX_NOT_FOUND', `Sandbox ${id} does not exist`, { sandboxId: id });
    }
    return toSandboxRecord(row);
  }

  private byId(
    manager: EntityManager,
    id: string,
    scope: TenantScope,
  ): Promise<SandboxEntity | null> {
    return manager.findOneBy(SandboxEntity, scope === null ? { id } : { id, tenant: scope });
  }

  /** A name in the namespace of `tenant` (null: the tenant-less sandboxes). */
  private byLiveName(
    manager: EntityManager,
    name: string,
    tenant: string | null,
  ): Promise<SandboxEntity | null> {
    return manager.findOneBy(SandboxEntity, {
      tenant: tenantColumn(tenant),
      name,
      state: Not('deleted' as const),
    });
  }
}

function concurrentModification(id: string, expectedVersion: number): CodedError {
  return new CodedError(
    'CONCURRENT_MODIFICATION',
    `Sandbox ${id} was modified concurrently; reload it and retry`,
    { sandboxId: id, expectedVersion },
  );
}

/** The fields of a stored record that its usage contribution depends on. */
function countedOf(info: SandboxInfo): CountedRow {
  return {
    state: info.state,
    tenant: tenantColumn(info.tenant),
    node: info.node ?? '',
    cpus: info.cpus,
    memoryBytes: info.memoryBytes,
  };
}

/** The caller's record, if it is the one the write expects (same sandbox, same version). */
function knownAt(
  known: SandboxRecord | undefined,
  id: string,
  expectedVersion: number,
): SandboxRecord | null {
  return known !== undefined && known.info.id === id && known.version === expectedVersion
    ? known
    : null;
}
