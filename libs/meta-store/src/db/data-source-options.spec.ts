import 'reflect-metadata';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@app/config';
import { buildDataSourceOptions } from './data-source-options';
import { IdempotencyKeyEntity, SandboxEntity, SandboxLabelEntity } from './entities';

describe('buildDataSourceOptions', () => {
  it('uses PostgreSQL when DATABASE_URL is set', () => {
    const options = buildDataSourceOptions(
      loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/sandboxd' }),
    );
    expect(options).toMatchObject({
      type: 'postgres',
      url: 'postgres://u:p@db:5432/sandboxd',
      synchronize: false,
      migrationsRun: true,
    });
  });

  it('uses SQLite at SQLITE_PATH otherwise and creates its directory', () => {
    const root = mkdtempSync(join(tmpdir(), 'meta-store-'));
    try {
      const path = join(root, 'nested', 'dir', 'db.sqlite');
      const options = buildDataSourceOptions(loadConfig({ SQLITE_PATH: path }));
      expect(options).toMatchObject({ type: 'better-sqlite3', database: path, synchronize: false });
      expect(existsSync(join(root, 'nested', 'dir'))).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('lists entities and migrations as classes, never as glob strings (webpack bundle)', () => {
    const options = buildDataSourceOptions(loadConfig({ DATABASE_URL: 'postgres://x/y' }));
    expect(options.entities).toEqual([SandboxEntity, SandboxLabelEntity, IdempotencyKeyEntity]);
    const migrations = (options.migrations ?? []) as unknown[];
    expect(migrations.length).toBeGreaterThan(0);
    for (const migration of migrations) expect(typeof migration).toBe('function');
  });
});
