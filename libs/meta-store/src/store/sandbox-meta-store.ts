import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  CodedError,
  describeError,
  validationError,
  LIVE_STATES,
  pickSandboxInfoFields,
} from '@app/domain';
import { DataSource } from 'typeorm';
import { KeyValueStore } from '../kv/key-value-store';
import { SecretsKeyring } from '../secrets/secrets-keyring';
import type {
  SandboxEventRecord,
  SandboxInfo,
  SandboxRecord,
  SandboxState,
  TenantUsage,
} from '@app/domain';
import type {
  InsertSandboxInput,
  ListSandboxesQuery,
  SandboxPage,
  StoredAccessToken,
  TenantScope,
  VersionedWriteOptions,
} from './meta-store.types';
import { AccessTokenDb } from './access-token-db';
import { AutoStopIndex } from './auto-stop-index';
import { DbGate } from './db-gate';
import { SandboxCache } from './sandbox-cache';
import { SandboxDb } from './sandbox-db';
import type { CommittedResources } from './sandbox-db';
import type { UsageDrift } from './usage-counters';

/**
 * The only persistence API of the sandbox library. The database is the durable truth; the
 * key-value store is a hot cache of live (pending/running) sandboxes that may be lost at any
 * moment (FLUSHALL, restart) without losing anything: every read falls back to the database.
 * It also holds the auto-stop deadline index (AutoStopIndex), which is rebuilt from the database
 * when lost.
 *
 * Write order is always database first, cache second, so a failed database write never leaves a
 * phantom cache entry. A cache failure after a committed write is reported as STORE_UNAVAILABLE
 * with `details.persisted = true` and is never "undone" in the database.
 */
@Injectable()
export class SandboxMetaStore {
  private readonly logger = new Logger(SandboxMetaStore.name);
  private readonly db: SandboxDb;
  private readonly cache: SandboxCache;
  private readonly autoStop: AutoStopIndex;
  private readonly accessTokens: AccessTokenDb;

  constructor(
    @InjectDataSource() dataSource: DataSource,
    kv: KeyValueStore,
    private readonly keyring: SecretsKeyring,
  ) {
    this.db = new SandboxDb(dataSource, keyring);
    this.cache = new SandboxCache(kv);
    this.autoStop = new AutoStopIndex(kv, this.db);
    this.accessTokens = new AccessTokenDb(new DbGate(dataSource), keyring);
  }

  /**
   * Creates the sandbox row, its label rows and the idempotency key in one transaction. A replay
   * of the same key and request returns the existing record with `created: false`.
   */
  async insert(
    input: InsertSandboxInput,
  ): Promise<{ record: SandboxRecord; created: boolean; events: SandboxEventRecord[] }> {
    const result = await this.db.insert(input);
    if (!result.created) return result;
    const info = result.record.info;
    if (isLive(info.state)) {
      try {
        await this.cache.writeAlive(info.id, info);
      } catch (error) {
        // Harmless: a brand-new id has no stale entry to shadow, and reads fall back to the DB.
        this.logger.warn(`Sandbox ${info.id} not cached: ${describeError(error)}`);
      }
    }
    // A brand-new id cannot be in the index, so only a live deadline needs writing.
    if (isLive(info.state) && info.autoStopAt !== null) {
      try {
        await this.syncAutoStopIndex(info);
      } catch (error) {
        // The index could not even be invalidated; its marker's TTL forces the rebuild later.
        this.logger.warn(`Auto-stop index not updated for ${info.id}: ${describeError(error)}`);
      }
    }
    return result;
  }

  /**
   * The env a record's sandbox was created with, opened: SECRETS_UNREADABLE (this sandbox only)
   * when the configured key did not seal it.
   */
  openEnv(record: SandboxRecord): Record<string, string> {
    return this.keyring.openEnv(record.info.id, record.spec.sealedEnv);
  }

  /**
   * A sandbox's data-plane access token (database only: never cached, never part of its record),
   * opened; null when none was issued. A deleted sandbox has none.
   */
  accessToken(sandboxId: string): Promise<StoredAccessToken | null> {
    return this.accessTokens.find(sandboxId);
  }

  /**
   * Issues `token` (null: open) to a sandbox that has none yet; answers the one it has otherwise,
   * so every replica that issues at once answers the same.
   */
  issueAccessToken(sandboxId: string, token: string | null): Promise<StoredAccessToken> {
    return this.accessTokens.issue(sandboxId, token);
  }

  /**
   * The authoritative record, for commands: by id, else by name among the non-deleted sandboxes of
   * the scope's namespace; a tenant scope finds only that tenant's (see TenantScope).
   */
  load(idOrName: string, scope: TenantScope = null): Promise<SandboxRecord | null> {
    return this.db.load(idOrName, scope);
  }

  /** Merges the patch into the stored info as version+1, then refreshes the cache. */
  async update(
    id: string,
    patch: Partial<SandboxInfo>,
    opts: VersionedWriteOptions,
  ): Promise<SandboxRecord> {
    const picked = withoutId(patch);
    const record = await this.versioned(id, picked, opts);
    await this.afterWrite(record, () => this.refreshCache(record, picked));
    return record;
  }

  /**
   * For leaving the live states: merges `finalInfo` into the stored info as version+1, then
   * evicts the sandbox's cache entry. Every write goes to the database first, so the cached view
   * is never newer than the row and is not read here.
   */
  async archiveCache(
    id: string,
    finalInfo: Partial<SandboxInfo>,
    opts: VersionedWriteOptions,
  ): Promise<SandboxRecord> {
    const record = await this.versioned(id, withoutId(finalInfo), opts);
    await this.afterWrite(record, () => this.afterCommit(record, () => this.cache.evict(id)));
    return record;
  }

  /**
   * Re-seeds the alive key and the auto-stop index entry from the stored record (restart, cache
   * recovery).
   */
  async restoreCache(id: string): Promise<void> {
    const record = await this.db.load(id);
    if (record === null || record.info.id !== id) {
      throw new CodedError('SANDBOX_NOT_FOUND', `Sandbox ${id} does not exist`, { sandboxId: id });
    }
    await this.cache.writeAlive(id, record.info);
    await this.autoStop.sync(record.info);
  }

  /**
   * For reads: the cached live view first (by id), then the database (by id, then by name), both
   * within the scope (see TenantScope). A cache failure degrades to the database instead of
   * failing the read.
   */
  async get(idOrName: string, scope: TenantScope = null): Promise<SandboxInfo | null> {
    const cached = await this.cache.readAlive(idOrName).catch((error: unknown) => {
      this.logger.warn(`Cache read failed, using the database: ${describeError(error)}`);
      return null;
    });
    if (cached !== null && (scope === null || cached.tenant === scope)) return cached;
    return this.db.loadInfo(idOrName, scope);
  }

  /** Filtered, id-ordered page from the database. */
  list(query: ListSandboxesQuery): Promise<SandboxPage> {
    return this.db.list(query);
  }

  /** Records a crash may have interrupted mid-operation (their `operation` is still set). */
  listWithOperationInFlight(): Promise<SandboxRecord[]> {
    return this.db.listWithOperationInFlight();
  }

  /**
   * Keyset paging over the records in the states, ordered by id: pass the last id of a page as
   * `afterId` for the next one (stable while sandboxes are created, unlike an offset).
   */
  listByStates(
    states: readonly SandboxState[],
    limit: number,
    afterId?: string,
  ): Promise<SandboxRecord[]> {
    return this.db.listByStates(states, limit, afterId);
  }

  /**
   * The records of the given ids, in the order asked (duplicates once); ids that do not exist are
   * left out. Queried in batches of LOAD_MANY_BATCH ids.
   */
  loadMany(ids: readonly string[]): Promise<SandboxRecord[]> {
    return this.db.loadMany(ids);
  }

  /** Every INSTANCE_ID that created a sandbox in this database (deleted ones included), sorted. */
  knownInstanceIds(): Promise<string[]> {
    return this.db.knownInstanceIds();
  }

  /**
   * Ids of live sandboxes whose autoStopAt is at or before `now`, earliest first, at most `limit`,
   * from the key-value store's deadline index (rebuilt from the database first when it is
   * missing, e.g. after FLUSHALL). Each returned id was confirmed against the database by this
   * call, but the record can change right after: re-check it under the sandbox lock before
   * stopping. See AutoStopIndex for why the index may be stale and why that is harmless.
   */
  async dueForAutoStop(now: Date, limit: number): Promise<string[]> {
    return this.autoStop.due(instant(now), positiveLimit(limit));
  }

  /**
   * Ids of stopped, unprotected sandboxes whose autoDeleteAt is at or before `now`, oldest
   * deadline first (ties by id), at most `limit`. Database only (a partial index answers it), so
   * it needs no cache. Re-check the record under the sandbox lock before deleting. `instanceId`:
   * only the sandboxes that instance created (cluster mode: the ones on its node).
   */
  async dueForAutoDelete(
    now: Date,
    limit: number,
    instanceId: string | null = null,
  ): Promise<string[]> {
    return this.db.dueForAutoDelete(instant(now), positiveLimit(limit), instanceId);
  }

  countByState(): Promise<Record<SandboxState, number>> {
    return this.db.countByState();
  }

  /**
   * The number of live (pending, running) sandboxes and the sum of their CPU and memory limits,
   * from the host's usage counter (kept equal to the sums over the rows by every write; see
   * usage-counters.ts). A sandbox without a limit adds 0 to that sum. A snapshot: admission does
   * not check against it, it reserves with the insert (InsertSandboxInput.reservation).
   */
  committedResources(node: string | null = null): Promise<CommittedResources> {
    return this.db.committedResources(node);
  }

  /** What `tenant` holds now (its sandboxes that are not deleted), from its usage counter. */
  tenantUsage(tenant: string): Promise<TenantUsage> {
    return this.db.tenantUsage(tenant);
  }

  /**
   * Repairs drift of the usage counters (a manual edit of the database, a bug, an old release that
   * wrote rows without them): every counter that differs from the sum over the rows is set to it,
   * with the counter rows locked in the same order as creates take them. Returns what it fixed.
   */
  reconcileUsage(now = Date.now()): Promise<UsageDrift[]> {
    return this.db.reconcileUsage(now);
  }

  /** The usage counters that differ from the sums over the rows, without fixing them. */
  usageDrift(): Promise<UsageDrift[]> {
    return this.db.usageDrift();
  }

  pingDatabase(): Promise<void> {
    return this.db.ping();
  }

  pingCache(): Promise<void> {
    return this.cache.ping();
  }

  /** The database half of update and archiveCache: the row and its events, in one commit. */
  private async versioned(
    id: string,
    patch: Partial<SandboxInfo>,
    opts: VersionedWriteOptions,
  ): Promise<SandboxRecord> {
    const { record, events } = await this.db.updateVersioned(
      id,
      opts.expectedVersion,
      (current) => ({ info: { ...current.info, ...patch }, machineSnapshot: opts.machineSnapshot }),
      opts.current,
      opts.events,
    );
    if (events.length > 0) opts.onCommitted?.(events);
    return record;
  }

  /**
   * The key-value steps after a committed versioned write: `cacheStep`, then the auto-stop index
   * entry, which is attempted even when the cache step failed. The first failure is rethrown.
   */
  private async afterWrite(record: SandboxRecord, cacheStep: () => Promise<void>): Promise<void> {
    const failures: unknown[] = [];
    await cacheStep().catch((error: unknown) => failures.push(error));
    await this.afterCommit(record, () => this.syncAutoStopIndex(record.info)).catch(
      (error: unknown) => failures.push(error),
    );
    if (failures.length > 0) throw failures[0];
  }

  /**
   * Moves the sandbox's auto-stop index entry to the committed deadline. If that fails, the index
   * is marked for a rebuild, so the missed entry costs at most one rebuild; only if even that fails
   * does the error propagate (the store is unreachable).
   */
  private async syncAutoStopIndex(info: SandboxInfo): Promise<void> {
    try {
      await this.autoStop.sync(info);
    } catch (error) {
      this.logger.warn(
        `Auto-stop index entry of ${info.id} not updated, forcing a rebuild: ${describeError(error)}`,
      );
      await this.autoStop.invalidate().catch(() => {
        throw error;
      });
    }
  }

  /** Keeps the cache in step with a committed update: merged while live, evicted otherwise. */
  private async refreshCache(record: SandboxRecord, patch: Partial<SandboxInfo>): Promise<void> {
    const id = record.info.id;
    if (!isLive(record.info.state)) {
      await this.afterCommit(record, () => this.cache.evict(id));
      return;
    }
    try {
      await this.cache.mergeAlive(id, patch, record.info);
    } catch (error) {
      // A stale entry would shadow the new state; without one, reads fall back to the DB.
      this.logger.warn(`Cache refresh of ${id} failed, evicting: ${describeError(error)}`);
      await this.afterCommit(record, () => this.cache.evictAlive(id));
    }
  }

  /** Runs a cache step after a DB commit; its failure is reported, the commit stands. */
  private async afterCommit(record: SandboxRecord, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      throw new CodedError(
        'STORE_UNAVAILABLE',
        `Sandbox ${record.info.id} was saved but the cache could not be updated: ${describeError(error)}`,
        { sandboxId: record.info.id, persisted: true, version: record.version },
        { cause: error },
      );
    }
  }
}

function isLive(state: SandboxState): boolean {
  return LIVE_STATES.includes(state);
}

/** The picked patch without `id` and `tenant`: neither is ever rewritten after the insert. */
function withoutId(patch: Partial<SandboxInfo>): Partial<SandboxInfo> {
  const picked = pickSandboxInfoFields(patch);
  delete picked.id;
  delete picked.tenant;
  return picked;
}

function instant(now: Date): number {
  const ms = now instanceof Date ? now.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw validationError('now', 'must be a valid Date');
  return ms;
}

function positiveLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) {
    throw validationError('limit', 'must be a positive integer');
  }
  return limit;
}
