/**
 * The small key-value vocabulary the service needs from Redis: plain strings with optional TTLs,
 * token-guarded compare-and-X operations for locks, and a sorted set for the scheduler. An abstract
 * class (not an interface) so Nest can use it as the injection token.
 *
 * Implementations: RedisKeyValueStore (shared across processes) and MemoryKeyValueStore (one
 * process, no Redis configured). Both pass the same contract suite.
 */
export abstract class KeyValueStore {
  /** The value, or null when the key is missing or expired. */
  abstract get(key: string): Promise<string | null>;

  /** Overwrites the key; without `ttlMs` the key never expires (and loses any previous TTL). */
  abstract set(key: string, value: string, ttlMs?: number): Promise<void>;

  /** Sets the key only if it does not exist; true when this call created it. */
  abstract setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;

  /** Deletes the keys; resolves to how many existed. */
  abstract del(...keys: string[]): Promise<number>;

  /** Atomically deletes the key only while it still holds `expected`. */
  abstract compareAndDelete(key: string, expected: string): Promise<boolean>;

  /** Atomically resets the key's TTL only while it still holds `expected`. */
  abstract compareAndExpire(key: string, expected: string, ttlMs: number): Promise<boolean>;

  /** Adds the member to the sorted set, or moves it to the new score. */
  abstract zadd(key: string, score: number, member: string): Promise<void>;

  /** Removes the member from the sorted set; true when it was there. */
  abstract zrem(key: string, member: string): Promise<boolean>;

  /** Up to `limit` members with score <= max, ascending by score (ties by member). */
  abstract zrangeByScore(key: string, max: number, limit: number): Promise<string[]>;

  /** Resolves when the store answers; rejects with STORE_UNAVAILABLE otherwise. */
  abstract ping(): Promise<void>;
}
