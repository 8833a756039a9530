import { Logger, OnModuleDestroy } from '@nestjs/common';
import { CodedError, describeError } from '@app/domain';
import Redis, { RedisOptions } from 'ioredis';
import { KeyValueStore } from './key-value-store';
import type { ScoredMember } from './key-value-store';
import { COMPARE_AND_DELETE, COMPARE_AND_EXPIRE, ZSET_COMPARE_AND_SET } from './redis-scripts';
import { normalizeTtl } from './ttl';

/** How often a persisting connection problem is logged; ioredis reports every reconnect attempt. */
const ERROR_LOG_INTERVAL_MS = 10_000;

/** Members per ZADD in zaddMany: one command each, without building huge argument lists. */
const ZADD_CHUNK = 500;

/**
 * Fail commands fast while Redis is down instead of queueing them for minutes: callers turn the
 * failure into STORE_UNAVAILABLE and the DB stays the source of truth.
 */
const CLIENT_OPTIONS: RedisOptions = {
  maxRetriesPerRequest: 2,
  connectTimeout: 5_000,
  retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
};

/**
 * KeyValueStore on Redis, shared by every sandboxd process. Every key is prefixed with
 * `StoreConfig.redisKeyPrefix`, so several deployments (or test runs) can share one Redis database.
 */
export class RedisKeyValueStore extends KeyValueStore implements OnModuleDestroy {
  private readonly logger = new Logger(RedisKeyValueStore.name);
  private readonly client: Redis;
  private lastErrorLoggedAt = 0;

  /** `options` override the fail-fast defaults (tests, TLS settings for rediss://). */
  constructor(
    url: string,
    private readonly keyPrefix: string,
    options: RedisOptions = {},
  ) {
    super();
    this.client = new Redis(url, { ...CLIENT_OPTIONS, ...options });
    // Without a listener an 'error' event is an unhandled exception that kills the process.
    this.client.on('error', (error: unknown) => this.logConnectionError(error));
  }

  get(key: string): Promise<string | null> {
    return this.run(() => this.client.get(this.k(key)));
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    const ttl = ttlMs === undefined ? undefined : normalizeTtl(ttlMs);
    await this.run(() =>
      ttl === undefined
        ? this.client.set(this.k(key), value)
        : this.client.set(this.k(key), value, 'PX', ttl),
    );
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const ttl = normalizeTtl(ttlMs);
    const reply = await this.run(() => this.client.set(this.k(key), value, 'PX', ttl, 'NX'));
    return reply === 'OK';
  }

  async del(...keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    return this.run(() => this.client.del(...keys.map((key) => this.k(key))));
  }

  async compareAndDelete(key: string, expected: string): Promise<boolean> {
    const reply = await this.run(() =>
      this.client.eval(COMPARE_AND_DELETE, 1, this.k(key), expected),
    );
    return reply === 1;
  }

  async compareAndExpire(key: string, expected: string, ttlMs: number): Promise<boolean> {
    const ttl = normalizeTtl(ttlMs);
    const reply = await this.run(() =>
      this.client.eval(COMPARE_AND_EXPIRE, 1, this.k(key), expected, String(ttl)),
    );
    return reply === 1;
  }

  async zadd(key: string, score: number, member: string): Promise<void> {
    await this.run(() => this.client.zadd(this.k(key), score, member));
  }

  async zrem(key: string, member: string): Promise<boolean> {
    return (await this.run(() => this.client.zrem(this.k(key), member))) === 1;
  }

  async zrangeByScore(key: string, max: number, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    return this.run(() =>
      this.client.zrangebyscore(
        this.k(key),
        '-inf',
        scoreBound(max),
        'LIMIT',
        0,
        Math.floor(limit),
      ),
    );
  }

  async zrangeByScoreWithScores(key: string, max: number, limit: number): Promise<ScoredMember[]> {
    if (limit <= 0) return [];
    const flat = await this.run(() =>
      this.client.zrangebyscore(
        this.k(key),
        '-inf',
        scoreBound(max),
        'WITHSCORES',
        'LIMIT',
        0,
        Math.floor(limit),
      ),
    );
    const members: ScoredMember[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      members.push({ member: flat[i], score: Number(flat[i + 1]) });
    }
    return members;
  }

  async zaddMany(
    key: string,
    entries: readonly ScoredMember[],
    options: { onlyLower?: boolean } = {},
  ): Promise<void> {
    const flags = options.onlyLower === true ? ['LT'] : [];
    for (let start = 0; start < entries.length; start += ZADD_CHUNK) {
      const args = entries
        .slice(start, start + ZADD_CHUNK)
        .flatMap(({ member, score }) => [String(score), member]);
      await this.run(() => this.client.call('ZADD', this.k(key), ...flags, ...args));
    }
  }

  async zcompareAndSet(
    key: string,
    member: string,
    expectedScore: number,
    next: number | null,
  ): Promise<boolean> {
    const reply = await this.run(() =>
      this.client.eval(
        ZSET_COMPARE_AND_SET,
        1,
        this.k(key),
        member,
        String(expectedScore),
        next === null ? '' : String(next),
      ),
    );
    return reply === 1;
  }

  async ping(): Promise<void> {
    await this.run(() => this.client.ping());
  }

  async onModuleDestroy(): Promise<void> {
    await this.close();
  }

  /** Closes the connection: QUIT when connected (lets replies drain), else drop it at once. */
  async close(): Promise<void> {
    if (this.client.status === 'end') return;
    if (this.client.status !== 'ready') {
      this.client.disconnect();
      return;
    }
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  private k(key: string): string {
    return this.keyPrefix + key;
  }

  /** Maps any client failure to the domain's STORE_UNAVAILABLE, keeping the cause for logs. */
  private async run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new CodedError(
        'STORE_UNAVAILABLE',
        `Redis is unavailable: ${describeError(error)}`,
        { store: 'redis' },
        { cause: error },
      );
    }
  }

  private logConnectionError(error: unknown): void {
    const now = Date.now();
    if (now - this.lastErrorLoggedAt < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorLoggedAt = now;
    this.logger.warn(`Redis connection problem: ${describeError(error)}`);
  }
}

/** Redis spells an unbounded score +inf; a JavaScript Infinity would be sent as "Infinity". */
function scoreBound(max: number): string | number {
  return max === Infinity ? '+inf' : max;
}
