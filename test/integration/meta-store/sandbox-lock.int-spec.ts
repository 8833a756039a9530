import 'reflect-metadata';
import { MemoryKeyValueStore, RedisKeyValueStore } from '@app/meta-store';
import { describeSandboxLockContract } from './sandbox-lock.contract';
import { TEST_REDIS_URL, deleteKeysWithPrefix, uniquePrefix } from './meta-store-support';

const prefix = uniquePrefix('lock');

describeSandboxLockContract('redis, two clients', () => {
  const first = new RedisKeyValueStore(TEST_REDIS_URL, prefix);
  const second = new RedisKeyValueStore(TEST_REDIS_URL, prefix);
  return {
    stores: [first, second],
    close: async () => {
      await deleteKeysWithPrefix(prefix);
      await Promise.all([first.close(), second.close()]);
    },
  };
});

describeSandboxLockContract('memory, one process', () => {
  const store = new MemoryKeyValueStore();
  return { stores: [store, store], close: () => Promise.resolve() };
});
