import { StoreConfig } from '@app/config';
import { DataSourceOptions } from 'typeorm';
import { metaStoreMigrations } from '../migrations';
import type { SecretsKeyring } from '../secrets/secrets-keyring';
import { META_STORE_ENTITIES } from './entities';
import { prepareSqliteFiles } from './sqlite-files';

/** Own name so the history table cannot collide with another tool's `migrations` in a shared DB. */
export const MIGRATIONS_TABLE_NAME = 'sandboxd_migrations';

/**
 * PostgreSQL when DATABASE_URL is set, otherwise SQLite (better-sqlite3) at SQLITE_PATH. The schema
 * is only ever changed by the listed migrations, never by `synchronize`. The keyring is the one
 * the store seals with: the migration that seals values stored in clear uses it at start-up.
 */
export function buildDataSourceOptions(
  config: Pick<StoreConfig, 'databaseUrl' | 'sqlitePath'>,
  keyring: SecretsKeyring,
): DataSourceOptions {
  const common = {
    entities: META_STORE_ENTITIES,
    migrations: metaStoreMigrations(keyring),
    migrationsRun: true,
    migrationsTableName: MIGRATIONS_TABLE_NAME,
    // One transaction for the whole batch: a failed upgrade leaves the previous schema intact.
    migrationsTransactionMode: 'all' as const,
    synchronize: false,
    // Not 'error': TypeORM logs a failed query with its parameters, which include the spec's
    // environment values. Failures reach the caller as errors without them (see db-errors.ts).
    logging: ['warn', 'migration'],
  } satisfies Partial<DataSourceOptions>;

  if (config.databaseUrl !== undefined) {
    return {
      ...common,
      type: 'postgres',
      url: config.databaseUrl,
      // Fail fast (STORE_UNAVAILABLE) rather than hang when the database is unreachable.
      connectTimeoutMS: 5_000,
      extra: { max: 10 },
    };
  }

  if (config.sqlitePath !== ':memory:') {
    // better-sqlite3 creates the file (with the umask's mode) but not its directory.
    prepareSqliteFiles(config.sqlitePath);
  }
  return {
    ...common,
    type: 'better-sqlite3',
    database: config.sqlitePath,
    // WAL lets readers in other processes (backups, a CLI) proceed while the service writes.
    enableWAL: true,
    // Wait for a lock held by another process instead of failing at once with SQLITE_BUSY.
    timeout: 5_000,
  };
}
