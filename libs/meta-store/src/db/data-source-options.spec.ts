import 'reflect-metadata';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@app/config';
import { testKeyring } from '../testing/sandbox-fixtures';
import { buildDataSourceOptions } from './data-source-options';
import {
  ApiKeyEntity,
  ResourceUsageEntity,
  IdempotencyKeyEntity,
  SandboxEntity,
  SandboxEventEntity,
  SandboxLabelEntity,
  TenantLimitsEntity,
  SandboxAccessTokenEntity,
  UsageHoldEntity,
  WebhookAttemptEntity,
  ClusterNodeEntity,
  WebhookDeliveryEntity,
  WebhookEntity,
} from './entities';

describe('buildDataSourceOptions', () => {
  it('uses PostgreSQL when DATABASE_URL is set', () => {
    const options = buildDataSourceOptions(
      loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/sandboxd' }).store,
      testKeyring(),
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
      const options = buildDataSourceOptions(
        loadConfig({ SQLITE_PATH: path }).store,
        testKeyring(),
      );
      expect(options).toMatchObject({ type: 'better-sqlite3', database: path, synchronize: false });
      expect(existsSync(join(root, 'nested', 'dir'))).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('makes the directories it creates 0700 and the database file 0600 before it is opened', () => {
    const root = mkdtempSync(join(tmpdir(), 'meta-store-'));
    const umask = process.umask(0o022);
    try {
      const path = join(root, 'data', 'db.sqlite');
      buildDataSourceOptions(loadConfig({ SQLITE_PATH: path }).store, testKeyring());
      expect((statSync(join(root, 'data')).mode & 0o777).toString(8)).toBe('700');
      expect((statSync(path).mode & 0o777).toString(8)).toBe('600');
    } finally {
      process.umask(umask);
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('tightens a database, -wal and -shm file an older version left readable to others', () => {
    const root = mkdtempSync(join(tmpdir(), 'meta-store-'));
    try {
      const path = join(root, 'db.sqlite');
      for (const file of [path, `${path}-wal`, `${path}-shm`]) {
        writeFileSync(file, '', { mode: 0o644 });
      }
      buildDataSourceOptions(loadConfig({ SQLITE_PATH: path }).store, testKeyring());
      for (const file of [path, `${path}-wal`, `${path}-shm`]) {
        expect({ file, mode: (statSync(file).mode & 0o777).toString(8) }).toEqual({
          file,
          mode: '600',
        });
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('lists entities and migrations as classes, never as glob strings (webpack bundle)', () => {
    const options = buildDataSourceOptions(
      loadConfig({ DATABASE_URL: 'postgres://x/y' }).store,
      testKeyring(),
    );
    expect(options.entities).toEqual([
      SandboxEntity,
      SandboxLabelEntity,
      IdempotencyKeyEntity,
      TenantLimitsEntity,
      ResourceUsageEntity,
      UsageHoldEntity,
      SandboxAccessTokenEntity,
      ApiKeyEntity,
      SandboxEventEntity,
      WebhookEntity,
      WebhookDeliveryEntity,
      WebhookAttemptEntity,
      ClusterNodeEntity,
    ]);
    const migrations = (options.migrations ?? []) as unknown[];
    expect(migrations.length).toBeGreaterThan(0);
    for (const migration of migrations) expect(typeof migration).toBe('function');
  });
});
