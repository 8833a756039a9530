import { DataSource, DataSourceOptions } from 'typeorm';

/** Arbitrary constant shared by every sandboxd instance: "the schema migration lock". */
const MIGRATION_LOCK_ID = 7_318_204_551;

/**
 * Connects and runs pending migrations. On PostgreSQL the migrations run under a session advisory
 * lock: several instances starting at once against a fresh database would otherwise race to create
 * the same tables, and all but one would crash. SQLite serializes writers by itself.
 */
export async function initializeDataSource(options: DataSourceOptions): Promise<DataSource> {
  const shouldMigrate = options.migrationsRun === true;
  const dataSource = new DataSource({ ...options, migrationsRun: false });
  await dataSource.initialize();
  try {
    if (shouldMigrate) await runMigrationsExclusively(dataSource);
    return dataSource;
  } catch (error) {
    // The Nest module retries the whole factory; do not leak this attempt's connection pool.
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
}

async function runMigrationsExclusively(dataSource: DataSource): Promise<void> {
  if (dataSource.options.type !== 'postgres') {
    await dataSource.runMigrations();
    return;
  }
  const lockHolder = dataSource.createQueryRunner();
  try {
    await lockHolder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      await dataSource.runMigrations();
    } finally {
      await lockHolder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  } finally {
    await lockHolder.release();
  }
}
