/** A sorted-set member with its score. */
export interface ScoredMember {
  member: string;
  score: number;
}

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

  /** zrangeByScore with each member's score. */
  abstract zrangeByScoreWithScores(
    key: string,
    max: number,
    limit: number,
  ): Promise<ScoredMember[]>;

  /**
   * Adds the members in bulk. With `onlyLower`, an existing member only ever moves to a lower score
   * (Redis ZADD LT, Redis 6.2+); new members are added either way.
   */
  abstract zaddMany(
    key: string,
    entries: readonly ScoredMember[],
    options?: { onlyLower?: boolean },
  ): Promise<void>;

  /**
   * Atomically, only while the member's score is still `expectedScore`: moves it to `next`, or
   * removes it when `next` is null. False when the member is gone or was moved meanwhile.
   */
  abstract zcompareAndSet(
    key: string,
    member: string,
    expectedScore: number,
    next: number | null,
  ): Promise<boolean>;

  /** Resolves when the store answers; rejects with STORE_UNAVAILABLE otherwise. */
  abstract ping(): Promise<void>;
}
