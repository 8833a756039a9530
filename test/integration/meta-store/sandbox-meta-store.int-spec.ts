import 'reflect-metadata';
import { loadConfig } from '@app/config';
import {
  MemoryKeyValueStore,
  RedisKeyValueStore,
  SandboxMetaStore,
  buildDataSourceOptions,
  initializeDataSource,
} from '@app/meta-store';
import { describeSandboxMetaStoreContract } from './sandbox-meta-store.contract';
import {
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  deleteKeysWithPrefix,
  tempSqlite,
  uniquePrefix,
} from './meta-store-support';

describeSandboxMetaStoreContract('PostgreSQL + Redis', async () => {
  const prefix = uniquePrefix('meta');
  const config = loadConfig({
    DATABASE_URL: TEST_DATABASE_URL,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
  });
  const dataSource = await initializeDataSource(buildDataSourceOptions(config));
  const kv = new RedisKeyValueStore(TEST_REDIS_URL, prefix);
  return {
    store: new SandboxMetaStore(dataSource, kv),
    dataSource,
    kv,
    flushCache: () => deleteKeysWithPrefix(prefix),
    exclusiveDatabase: false,
    close: async () => {
      await kv.close();
      await dataSource.destroy();
    },
  };
});

describeSandboxMetaStoreContract('SQLite + memory', async () => {
  const file = tempSqlite();
  const config = loadConfig({ SQLITE_PATH: file.path });
  const dataSource = await initializeDataSource(buildDataSourceOptions(config));
  const kv = new MemoryKeyValueStore();
  return {
    store: new SandboxMetaStore(dataSource, kv),
    dataSource,
    kv,
    flushCache: () => Promise.resolve(kv.clear()),
    exclusiveDatabase: true,
    close: async () => {
      await dataSource.destroy();
      file.remove();
    },
  };
});
