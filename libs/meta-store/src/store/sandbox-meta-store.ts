import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { CodedError, describeError, validationError } from '@app/config';
import { DataSource } from 'typeorm';
import { KeyValueStore } from '../kv/key-value-store';
import { LIVE_STATES, pickSandboxInfoFields } from '../sandbox-info';
import type { SandboxInfo, SandboxRecord, SandboxState } from '../sandbox-info';
import type {
  InsertSandboxInput,
  ListSandboxesQuery,
  SandboxPage,
  SandboxTimeout,
  VersionedWriteOptions,
} from './meta-store.types';
import { SandboxCache } from './sandbox-cache';
import { SandboxDb } from './sandbox-db';

/**
 * The only persistence API of the sandbox library. The database is the durable truth; the
 * key-value store is a hot cache of live (pending/running) sandboxes that may be lost at any
 * moment (FLUSHALL, restart) without losing anything: every read falls back to the database.
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

  constructor(@InjectDataSource() dataSource: DataSource, kv: KeyValueStore) {
    this.db = new SandboxDb(dataSource);
    this.cache = new SandboxCache(kv);
  }

  /**
   * Creates the sandbox row, its label rows and the idempotency key in one transaction. A replay
   * of the same key and request returns the existing record with `created: false`.
   */
  async insert(input: InsertSandboxInput): Promise<{ record: SandboxRecord; created: boolean }> {
    const result = await this.db.insert(input);
    if (result.created && isLive(result.record.info.state)) {
      try {
        await this.seedCache(result.record.info);
      } catch (error) {
        // Harmless: a brand-new id has no stale entry to shadow, and reads fall back to the DB.
        this.logger.warn(`Sandbox ${result.record.info.id} not cached: ${describeError(error)}`);
      }
    }
    return result;
  }

  /** The authoritative record, for commands: by id, else by name among non-deleted sandboxes. */
  load(idOrName: string): Promise<SandboxRecord | null> {
    return this.db.load(idOrName);
  }

  /** Merges the patch into the stored info as version+1, then refreshes the cache. */
  async update(
    id: string,
    patch: Partial<SandboxInfo>,
    opts: VersionedWriteOptions,
  ): Promise<SandboxRecord> {
    const picked = withoutId(patch);
    const record = await this.db.updateVersioned(id, opts.expectedVersion, (current) => ({
      info: { ...current.info, ...picked },
      machineSnapshot: opts.machineSnapshot,
    }));
    await this.refreshCache(record, picked);
    return record;
  }

  /**
   * For leaving the live states: folds the cached live view and `finalInfo` into the stored
   * info (the complete snapshot is persisted), then evicts the sandbox's cache keys.
   */
  async archiveCache(
    id: string,
    finalInfo: Partial<SandboxInfo>,
    opts: VersionedWriteOptions,
  ): Promise<SandboxRecord> {
    // Read before writing: if the cache is unreachable nothing has been changed yet.
    const cached = await this.cache.readAlive(id);
    const final = withoutId(finalInfo);
    const record = await this.db.updateVersioned(id, opts.expectedVersion, (current) => ({
      info: { ...current.info, ...(cached === null ? {} : withoutId(cached)), ...final },
      machineSnapshot: opts.machineSnapshot,
    }));
    await this.afterCommit(record, () => this.cache.evict(id));
    return record;
  }

  /** Re-seeds the alive and timeout keys from the stored record (restart, cache recovery). */
  async restoreCache(id: string): Promise<void> {
    const record = await this.db.load(id);
    if (record === null || record.info.id !== id) {
      throw new CodedError('SANDBOX_NOT_FOUND', `Sandbox ${id} does not exist`, { sandboxId: id });
    }
    await this.seedCache(record.info);
  }

  /**
   * For reads: the cached live view first (by id), then the database (by id, then by name).
   * A cache failure degrades to the database instead of failing the read.
   */
  async get(idOrName: string): Promise<SandboxInfo | null> {
    const cached = await this.cache.readAlive(idOrName).catch((error: unknown) => {
      this.logger.warn(`Cache read failed, using the database: ${describeError(error)}`);
      return null;
    });
    if (cached !== null) return cached;
    const record = await this.db.load(idOrName);
    return record === null ? null : (pickSandboxInfoFields(record.info) as SandboxInfo);
  }

  /**
   * The idle clock of a live sandbox; null for other states. After a cache loss the clock is
   * re-seeded from the stored idle timeout, starting now: a lost cache may delay an idle stop but
   * never causes a premature one.
   */
  async getTimeout(id: string): Promise<SandboxTimeout | null> {
    const cached = await this.cache.readTimeout(id);
    if (cached !== null) return cached;
    const record = await this.db.load(id);
    if (record === null || record.info.id !== id || !isLive(record.info.state)) return null;
    const timeout = freshTimeout(record.info);
    await this.cache.writeTimeout(id, timeout);
    return timeout;
  }

  async setTimeout(id: string, timeout: SandboxTimeout): Promise<void> {
    if (Number.isNaN(Date.parse(timeout.expiresAt))) {
      throw validationError('expiresAt', 'must be an ISO-8601 instant');
    }
    await this.cache.writeTimeout(id, timeout);
  }

  /** Filtered, id-ordered page from the database. */
  list(query: ListSandboxesQuery): Promise<SandboxPage> {
    return this.db.list(query);
  }

  /** Records a crash may have interrupted mid-operation (their `operation` is still set). */
  listWithOperationInFlight(): Promise<SandboxRecord[]> {
    return this.db.listWithOperationInFlight();
  }

  listByState(states: SandboxState[], limit: number): Promise<SandboxRecord[]> {
    return this.db.listByState(states, limit);
  }

  countByState(): Promise<Record<SandboxState, number>> {
    return this.db.countByState();
  }

  pingDatabase(): Promise<void> {
    return this.db.ping();
  }

  pingCache(): Promise<void> {
    return this.cache.ping();
  }

  private async seedCache(info: SandboxInfo): Promise<void> {
    await this.cache.writeAlive(info.id, info);
    await this.cache.writeTimeout(info.id, freshTimeout(info));
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

/** The picked patch without `id`: a sandbox's id is never rewritten. */
function withoutId(patch: Partial<SandboxInfo>): Partial<SandboxInfo> {
  const picked = pickSandboxInfoFields(patch);
  delete picked.id;
  return picked;
}

function freshTimeout(info: SandboxInfo): SandboxTimeout {
  return {
    idleTimeoutSeconds: info.idleTimeoutSeconds,
    expiresAt: new Date(Date.now() + info.idleTimeoutSeconds * 1000).toISOString(),
  };
}
