import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { ThrottlerStorage, ThrottlerStorageService } from '@nestjs/throttler';
import Redis from 'ioredis';
import { AuthConfig, StoreConfig } from '@app/config';
import { CodedError, describeError } from '@app/domain';

const THROTTLER_NAME = 'auth-failures';
/** Addresses remembered as blocked at most; past it, the oldest are forgotten first. */
const MAX_TRACKED = 100_000;
const WARN_INTERVAL_MS = 10_000;

/**
 * Brute-force protection: failed authentications are counted per client address (successes are
 * not), and an address past AUTH_FAILURE_LIMIT failures in AUTH_FAILURE_WINDOW_SECONDS is refused
 * with AUTH_RATE_LIMITED (429, Retry-After) for a window, whatever key it then presents.
 *
 * The counting is @nestjs/throttler's storage contract (`increment(key, ttl, limit, block)`),
 * with its own in-memory storage on the embedded default and @nest-lab/throttler-storage-redis
 * (one Lua script per failure, kept by a Nest core maintainer) when REDIS_URL is set, so every
 * replica counts into one total. The ThrottlerGuard itself is not used: it counts every request
 * before the handler runs, and here only a failure may count. A replica remembers the blocks it
 * has seen, so a blocked address costs it no lookup at all; another replica learns of the block
 * at that address's next failure there.
 *
 * If the storage cannot be reached, a failure is answered 401 as usual and not counted (logged):
 * the limit is a second line of defence behind 256-bit keys, not a reason to refuse valid ones.
 */
@Injectable()
export class FailedAuthLimiter implements OnModuleDestroy {
  private readonly logger = new Logger('Auth');
  private readonly storage: ThrottlerStorage;
  private readonly redis: Redis | null;
  private readonly keyPrefix: string;
  private readonly blockedUntil = new Map<string, number>();
  private lastWarnedAt = 0;

  constructor(
    private readonly config: AuthConfig,
    store: StoreConfig,
  ) {
    if (store.redisUrl !== undefined) {
      this.redis = new Redis(store.redisUrl, {
        // While Redis is away a failure goes uncounted after at most this: the 401 it answers
        // must not wait long on the limit.
        commandTimeout: 1_000,
        maxRetriesPerRequest: 1,
        connectTimeout: 5_000,
        retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
      });
      // Without a listener an 'error' event would be an uncaught exception.
      this.redis.on('error', (error: unknown) => this.warn(error));
      this.storage = new ThrottlerStorageRedisService(this.redis);
      this.keyPrefix = `${store.redisKeyPrefix}${THROTTLER_NAME}:`;
    } else {
      this.redis = null;
      this.storage = new ThrottlerStorageService();
      this.keyPrefix = '';
    }
  }

  /** Refuses a client this replica knows to be blocked, before any work is done for it. */
  assertNotBlocked(client: string, now = Date.now()): void {
    const until = this.blockedUntil.get(client);
    if (until === undefined) return;
    if (until > now) throw rateLimited(until - now);
    this.blockedUntil.delete(client);
  }

  /** Counts one failed authentication; throws AUTH_RATE_LIMITED once the client is over. */
  async recordFailure(client: string): Promise<void> {
    const windowMs = this.config.failureWindowSeconds * 1000;
    let record;
    try {
      record = await this.storage.increment(
        this.keyPrefix + client,
        windowMs,
        this.config.failureLimit,
        windowMs,
        THROTTLER_NAME,
      );
    } catch (error) {
      this.warn(error);
      return;
    }
    if (!record.isBlocked) return;
    const retryMs = Math.max(1, record.timeToBlockExpire) * 1000;
    this.remember(client, Date.now() + retryMs);
    throw rateLimited(retryMs);
  }

  async onModuleDestroy(): Promise<void> {
    if (this.storage instanceof ThrottlerStorageService) this.storage.onApplicationShutdown();
    if (this.redis === null || this.redis.status === 'end') return;
    // QUIT only on a live connection (it lets replies drain); else stop reconnecting at once.
    if (this.redis.status !== 'ready') {
      this.redis.disconnect();
      return;
    }
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  private remember(client: string, until: number): void {
    this.blockedUntil.delete(client);
    this.blockedUntil.set(client, until);
    if (this.blockedUntil.size <= MAX_TRACKED) return;
    const now = Date.now();
    for (const [key, at] of this.blockedUntil) if (at <= now) this.blockedUntil.delete(key);
    // Still full of live blocks (a wide attack): the oldest go first (Maps keep insertion order).
    for (const key of this.blockedUntil.keys()) {
      if (this.blockedUntil.size <= MAX_TRACKED) break;
      this.blockedUntil.delete(key);
    }
  }

  private warn(error: unknown): void {
    const now = Date.now();
    if (now - this.lastWarnedAt < WARN_INTERVAL_MS) return;
    this.lastWarnedAt = now;
    this.logger.warn(`failed authentications are not being counted: ${describeError(error)}`);
  }
}

function rateLimited(retryMs: number): CodedError {
  const retryAfterSeconds = Math.max(1, Math.ceil(retryMs / 1000));
  return new CodedError(
    'AUTH_RATE_LIMITED',
    `too many failed authentications from this address; retry in ${retryAfterSeconds} s`,
    { retryAfterSeconds },
  );
}
