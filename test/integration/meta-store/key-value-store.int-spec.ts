import 'reflect-metadata';
import { MemoryKeyValueStore, RedisKeyValueStore } from '@app/meta-store';
import { isCodedError } from '@app/domain';
import { describeKeyValueStoreContract } from './key-value-store.contract';
import {
  TEST_REDIS_URL,
  deleteKeysWithPrefix,
  rejectionOf,
  uniquePrefix,
} from './meta-store-support';

const prefix = uniquePrefix('kv');

describeKeyValueStoreContract('redis', () => {
  const store = new RedisKeyValueStore(TEST_REDIS_URL, prefix);
  return {
    store,
    close: async () => {
      await deleteKeysWithPrefix(prefix);
      await store.close();
    },
  };
});

describeKeyValueStoreContract('memory', () => ({
  store: new MemoryKeyValueStore(),
  close: () => Promise.resolve(),
}));

describe('RedisKeyValueStore specifics', () => {
  it('prefixes every key with REDIS_KEY_PREFIX', async () => {
    const own = uniquePrefix('kv-prefix');
    const a = new RedisKeyValueStore(TEST_REDIS_URL, own);
    const b = new RedisKeyValueStore(TEST_REDIS_URL, uniquePrefix('kv-prefix'));
    try {
      await a.set('shared-name', 'from-a');
      expect(await b.get('shared-name')).toBeNull();
      const raw = new RedisKeyValueStore(TEST_REDIS_URL, '');
      expect(await raw.get(`${own}shared-name`)).toBe('from-a');
      await raw.close();
    } finally {
      await deleteKeysWithPrefix(own);
      await a.close();
      await b.close();
    }
  });

  it('reports an unreachable Redis as STORE_UNAVAILABLE instead of crashing', async () => {
    // A short connect timeout: each attempt's timer would otherwise outlive the test by 5 s.
    const store = new RedisKeyValueStore('redis://127.0.0.1:1/0', uniquePrefix('down'), {
      connectTimeout: 300,
    });
    try {
      const error = await rejectionOf(store.get('k'));
      expect(isCodedError(error, 'STORE_UNAVAILABLE')).toBe(true);
      expect(isCodedError(await rejectionOf(store.ping()), 'STORE_UNAVAILABLE')).toBe(true);
    } finally {
      await store.close();
    }
  });
});
