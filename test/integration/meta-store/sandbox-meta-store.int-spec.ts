import 'reflect-metadata';
import { loadConfig } from '@app/config';
import { CodedError, isCodedError } from '@app/domain';
import {
  AUTO_STOP_INDEX_BUILT_KEY,
  MemoryKeyValueStore,
  RedisKeyValueStore,
  SandboxMetaStore,
  buildDataSourceOptions,
  initializeDataSource,
} from '@app/meta-store';
import { DataSource } from 'typeorm';
import {
  makeSandboxInfo,
  makeSandboxSpec,
  testKeyring,
} from '../../../libs/meta-store/src/testing/sandbox-fixtures';
import { describeSandboxMetaStoreContract } from './sandbox-meta-store.contract';
import {
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  deleteKeysWithPrefix,
  rejectionOf,
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
  const dataSource = await initializeDataSource(
    buildDataSourceOptions(config.store, testKeyring()),
  );
  const kv = new RedisKeyValueStore(TEST_REDIS_URL, prefix);
  return {
    store: new SandboxMetaStore(dataSource, kv, testKeyring()),
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
  const dataSource = await initializeDataSource(
    buildDataSourceOptions(config.store, testKeyring()),
  );
  const kv = new MemoryKeyValueStore();
  return {
    store: new SandboxMetaStore(dataSource, kv, testKeyring()),
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

/** A memory store whose sorted-set writes (and, optionally, deletes) can be made to fail. */
class FlakyIndexStore extends MemoryKeyValueStore {
  failIndexWrites = false;
  failDeletes = false;

  override zadd(key: string, score: number, member: string): Promise<void> {
    return this.failIndexWrites ? Promise.reject(outage()) : super.zadd(key, score, member);
  }

  override zrem(key: string, member: string): Promise<boolean> {
    return this.failIndexWrites ? Promise.reject(outage()) : super.zrem(key, member);
  }

  override del(...keys: string[]): Promise<number> {
    return this.failDeletes ? Promise.reject(outage()) : super.del(...keys);
  }
}

function outage(): CodedError {
  return new CodedError('STORE_UNAVAILABLE', 'simulated outage', { store: 'test' });
}

describe('SandboxMetaStore: auto-stop index writes that fail after the commit', () => {
  const file = tempSqlite();
  const kv = new FlakyIndexStore();
  let dataSource: DataSource;
  let store: SandboxMetaStore;
  const deadline = '2001-01-01T00:00:10.000Z';

  beforeAll(async () => {
    dataSource = await initializeDataSource(
      buildDataSourceOptions(loadConfig({ SQLITE_PATH: file.path }).store, testKeyring()),
    );
    store = new SandboxMetaStore(dataSource, kv, testKeyring());
  });

  afterAll(async () => {
    await dataSource.destroy();
    file.remove();
  });

  it('forces a rebuild instead of failing the write, and the rebuild finds the sandbox', async () => {
    const { record } = await store.insert({
      info: makeSandboxInfo({ id: 'sbx-flaky-1', state: 'running', operation: null }),
      spec: makeSandboxSpec(),
      machineSnapshot: null,
      machineVersion: 'v1',
    });
    await store.dueForAutoStop(new Date(), 1); // builds the index
    expect(await kv.get(AUTO_STOP_INDEX_BUILT_KEY)).not.toBeNull();

    kv.failIndexWrites = true;
    const updated = await store.update(
      'sbx-flaky-1',
      { autoStopAt: deadline },
      { expectedVersion: record.version },
    );
    kv.failIndexWrites = false;
    expect(updated.info.autoStopAt).toBe(deadline);
    expect(await kv.get(AUTO_STOP_INDEX_BUILT_KEY)).toBeNull();
    expect(await store.dueForAutoStop(new Date('2001-01-01T00:01:00.000Z'), 10)).toEqual([
      'sbx-flaky-1',
    ]);
  });

  it('reports STORE_UNAVAILABLE with persisted: true when not even the marker can be dropped', async () => {
    const { record } = await store.insert({
      info: makeSandboxInfo({ id: 'sbx-flaky-2', state: 'running', operation: null }),
      spec: makeSandboxSpec(),
      machineSnapshot: null,
      machineVersion: 'v1',
    });
    kv.failIndexWrites = true;
    kv.failDeletes = true;
    const error = await rejectionOf(
      store.update('sbx-flaky-2', { autoStopAt: deadline }, { expectedVersion: record.version }),
    );
    kv.failIndexWrites = false;
    kv.failDeletes = false;
    expect(isCodedError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect(error).toMatchObject({ details: { sandboxId: 'sbx-flaky-2', persisted: true } });
    expect((await store.load('sbx-flaky-2'))?.info.autoStopAt).toBe(deadline);
  });
});
