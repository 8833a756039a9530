import { StoreConfig } from '@app/config';
import { KeyValueStore } from './key-value-store';
import { MemoryKeyValueStore } from './memory-key-value-store';
import { RedisKeyValueStore } from './redis-key-value-store';

/** Redis when REDIS_URL is configured (shared across instances), otherwise in-process memory. */
export function createKeyValueStore(config: StoreConfig): KeyValueStore {
  return config.redisUrl !== undefined
    ? new RedisKeyValueStore(config.redisUrl, config.redisKeyPrefix)
    : new MemoryKeyValueStore();
}
