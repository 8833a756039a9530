import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { AppConfigModule, type ConfigSlices, LOADED_CONFIG, loadConfig } from '@app/config';
import {
  KeyValueStore,
  MemoryKeyValueStore,
  MetaStoreModule,
  RedisKeyValueStore,
  SandboxLock,
  SandboxMetaStore,
} from '@app/meta-store';
import {
  makeSandboxInfo,
  makeSandboxSpec,
  TEST_SECRETS_KEY,
} from '../../../libs/meta-store/src/testing/sandbox-fixtures';
import { DataSource } from 'typeorm';
import {
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  deleteKeysWithPrefix,
  idFactory,
  tempSqlite,
} from './meta-store-support';

const newId = idFactory('module');

async function boot(config: ConfigSlices) {
  const moduleRef = await Test.createTestingModule({ imports: [AppConfigModule, MetaStoreModule] })
    .overrideProvider(LOADED_CONFIG)
    .useValue(config)
    .compile();
  const app = moduleRef.createNestApplication({ logger: ['error'] });
  await app.init();
  return app;
}

describe('MetaStoreModule', () => {
  it('wires SQLite + memory when neither DATABASE_URL nor REDIS_URL is set', async () => {
    const file = tempSqlite();
    const app = await boot(loadConfig({ SQLITE_PATH: file.path }));
    try {
      expect(app.get(KeyValueStore)).toBeInstanceOf(MemoryKeyValueStore);
      expect(app.get(DataSource).options.type).toBe('better-sqlite3');
      const store = app.get(SandboxMetaStore);
      const id = newId();
      const result = await store.insert({
        info: makeSandboxInfo({ id }),
        spec: makeSandboxSpec(),
        machineSnapshot: null,
        machineVersion: 'v1',
      });
      expect(result.created).toBe(true);
      await expect(
        app.get(SandboxLock).withLock(id, () => Promise.resolve('locked')),
      ).resolves.toBe('locked');
      expect(await store.get(id)).toEqual(result.record.info);
    } finally {
      await app.close();
      file.remove();
    }
  });

  it('wires PostgreSQL + Redis when configured, and closes the Redis connection on shutdown', async () => {
    const prefix = `sandboxd-test:module:${newId()}:`;
    const app = await boot(
      loadConfig({
        DATABASE_URL: TEST_DATABASE_URL,
        REDIS_URL: TEST_REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        SECRETS_KEY: TEST_SECRETS_KEY,
      }),
    );
    const kv = app.get(KeyValueStore);
    const dataSource = app.get(DataSource);
    try {
      expect(kv).toBeInstanceOf(RedisKeyValueStore);
      expect(dataSource.options.type).toBe('postgres');
      const store = app.get(SandboxMetaStore);
      await expect(store.pingDatabase()).resolves.toBeUndefined();
      await expect(store.pingCache()).resolves.toBeUndefined();
      await kv.set('probe', 'x');
    } finally {
      await app.close();
      await deleteKeysWithPrefix(prefix);
    }
    expect(dataSource.isInitialized).toBe(false);
    // Closed: a command now fails instead of hanging.
    await expect(kv.get('probe')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });
});
