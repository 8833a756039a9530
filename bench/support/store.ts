import 'reflect-metadata';
import { loadConfig } from '@app/config';
import {
  RedisKeyValueStore,
  SandboxMetaStore,
  buildDataSourceOptions,
  createKeyValueStore,
  initializeDataSource,
  resolveSecretsKeyring,
} from '@app/meta-store';
import { FakeState, insertFakeRecords } from './records';

/**
 * Fills the stores of a service environment before its server starts, through the meta-store's
 * own `insert` (database rows and labels, migrations first; on Redis also the cache entries of live
 * sandboxes). An embedded environment's in-process cache lives in the server process, so it is
 * not filled here: a write through the API (keepalive) does that once the server runs.
 */
export async function seedRecords(
  env: Record<string, string>,
  instanceId: string,
  states: readonly FakeState[],
): Promise<{ id: string; state: FakeState }[]> {
  const config = loadConfig(env);
  // The server's own key (SECRETS_KEY, or the key file it will find beside SQLite).
  const keyring = resolveSecretsKeyring(config.store);
  const dataSource = await initializeDataSource(buildDataSourceOptions(config.store, keyring));
  const kv = createKeyValueStore(config.store);
  try {
    const store = new SandboxMetaStore(dataSource, kv, keyring);
    return await insertFakeRecords(store, instanceId, states);
  } finally {
    if (kv instanceof RedisKeyValueStore) await kv.close();
    await dataSource.destroy();
  }
}
