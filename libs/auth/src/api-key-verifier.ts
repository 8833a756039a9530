import { Injectable, Logger } from '@nestjs/common';
import { ApiKeyRecord, ApiKeyStore } from '@app/meta-store';
import { describeError } from '@app/domain';
import { apiKeyIdOf, digestOf, sameDigest } from './api-key-format';

/**
 * How long a replica trusts what it read of a key. Revocation must reach every replica within
 * 1 s: a DELETE evicts the key here at once, and every other replica reads the row again at most
 * this long after; at one primary-key read per key, replica and half second, that costs nothing
 * worth a pub/sub channel (which would also need Redis, absent on the embedded default, and would
 * still need a TTL for a missed message).
 */
export const KEY_CACHE_TTL_MS = 500;
/** A use of a key is written at most this often per key and replica (not on every request). */
export const LAST_USED_INTERVAL_MS = 60_000;
/** Keys remembered at most (cache and last-use marks); past it, the oldest are dropped. */
const MAX_ENTRIES = 10_000;

interface Cached {
  /** Null: no such key (remembered briefly too, so a repeated bad key is one read). */
  record: ApiKeyRecord | null;
  /** When the read began: a revocation committed after it is seen at the next read. */
  readAt: number;
}

/**
 * Checks a presented key against the api_key table: its id finds the row, and the stored hash is
 * compared with the presented key's in constant time. What was read is kept KEY_CACHE_TTL_MS;
 * concurrent checks of one key share one read.
 */
@Injectable()
export class ApiKeyVerifier {
  private readonly logger = new Logger('Auth');
  private readonly cache = new Map<string, Cached>();
  private readonly reads = new Map<string, Promise<Cached>>();
  private readonly lastUseWritten = new Map<string, number>();

  constructor(private readonly store: ApiKeyStore) {}

  /** The live key a presented string is, or null (not our shape, unknown, revoked, wrong secret). */
  async verify(key: string, digest = digestOf(key)): Promise<ApiKeyRecord | null> {
    const id = apiKeyIdOf(key);
    if (id === null) return null;
    const { record } = await this.load(id);
    if (record === null || record.revokedAt !== null) return null;
    if (!sameDigest(digest, Buffer.from(record.keyHash, 'hex'))) return null;
    this.noteUse(record.id);
    return record;
  }

  /** Forgets what this replica read of the key (after a revocation here). */
  evict(id: string): void {
    this.cache.delete(id);
    this.reads.delete(id);
  }

  private async load(id: string): Promise<Cached> {
    const cached = this.cache.get(id);
    if (cached !== undefined && Date.now() - cached.readAt < KEY_CACHE_TTL_MS) return cached;
    const pending = this.reads.get(id);
    if (pending !== undefined) return pending;
    const readAt = Date.now();
    const read = this.store
      .findById(id)
      .then((record) => {
        const entry = { record, readAt };
        // An eviction while the read was in flight wins: that read may predate the revocation.
        if (this.reads.get(id) === read) remember(this.cache, id, entry);
        return entry;
      })
      .finally(() => {
        if (this.reads.get(id) === read) this.reads.delete(id);
      });
    this.reads.set(id, read);
    return read;
  }

  /** Writes lastUsedAt in the background, at most every LAST_USED_INTERVAL_MS per key. */
  private noteUse(id: string): void {
    const now = Date.now();
    const last = this.lastUseWritten.get(id);
    if (last !== undefined && now - last < LAST_USED_INTERVAL_MS) return;
    remember(this.lastUseWritten, id, now);
    this.store.recordUse(id, now, now - LAST_USED_INTERVAL_MS).catch((error: unknown) => {
      this.logger.warn(`lastUsedAt of key ${id} not written: ${describeError(error)}`);
    });
  }
}

/** Sets an entry as the newest, dropping the oldest past MAX_ENTRIES. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_ENTRIES) map.delete(map.keys().next().value as string);
}
