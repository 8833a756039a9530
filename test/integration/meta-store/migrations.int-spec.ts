import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '@app/config';
import {
  META_STORE_MIGRATIONS,
  MIGRATIONS_TABLE_NAME,
  SandboxMetaStore,
  MemoryKeyValueStore,
  buildDataSourceOptions,
  initializeDataSource,
  isSealedValue,
  metaStoreMigrations,
} from '@app/meta-store';
import { SANDBOX_INFO_FIELDS } from '@app/domain';
import { Client } from 'pg';
import { DataSource, DataSourceOptions } from 'typeorm';
import type { SandboxInfo } from '@app/domain';
import { buildDueForAutoDeleteQuery } from '../../../libs/meta-store/src/store/deadline-queries';
import {
  buildCommittedResourcesQuery,
  buildTenantUsageQuery,
} from '../../../libs/meta-store/src/store/resource-queries';
import { buildListQuery } from '../../../libs/meta-store/src/store/sandbox-list-query';
import {
  makeSandboxInfo,
  makeSandboxSpec,
  makeSealedSandboxSpec,
  testKeyring,
} from '../../../libs/meta-store/src/testing/sandbox-fixtures';
import { TEST_DATABASE_URL, dropDatabase, tempSqlite } from './meta-store-support';

/** The schema every driver must end up with (what the entities map). */
async function schemaOf(dataSource: DataSource) {
  const runner = dataSource.createQueryRunner();
  try {
    const tables = await runner.getTables([
      'sandbox_table',
      'sandbox_label',
      'idempotency_key',
      'tenant_limits',
      'resource_usage',
      'usage_hold',
      'sandbox_access_token',
      'api_key',
      'sandbox_event',
      'webhook',
      'webhook_delivery',
      'webhook_attempt',
      'cluster_node',
    ]);
    return Object.fromEntries(
      tables.map((t) => [
        t.name.replace(/^.*\./, ''),
        {
          columns: t.columns.map((c) => `${c.name}${c.isNullable ? '?' : ''}`).sort(),
          primary: t.primaryColumns.map((c) => c.name).sort(),
          indices: t.indices
            // Sorted: TypeORM's PostgreSQL reader lists an index's columns in table order, not
            // index order (the real order is checked against pg_indexes below).
            .map((i) => `${i.name}${i.isUnique ? '!' : ''}(${[...i.columnNames].sort().join(',')})`)
            .sort(),
        },
      ]),
    );
  } finally {
    await runner.release();
  }
}

const expectedSchema = {
  cluster_node: {
    columns: [
      'api_url?',
      'availability',
      'cpus',
      'e2b_url?',
      'heartbeat_at?',
      'hostname',
      'instance_id?',
      'labels',
      'memory_bytes',
      'node_id',
      'observed_at?',
      'platform',
      'role',
      'state',
    ],
    primary: ['node_id'],
    indices: [],
  },
  sandbox_table: {
    columns: [
      'auto_delete_at?',
      'auto_stop_at?',
      'cpus?',
      'created_at',
      'deleted_at?',
      'id',
      'image',
      'info',
      'instance_id',
      'labels',
      'machine_snapshot?',
      'machine_version',
      'memory_bytes?',
      'name?',
      'node',
      'operation?',
      'protected',
      'spec',
      'started_at?',
      'state',
      'stopped_at?',
      'tenant',
      'version',
    ],
    primary: ['id'],
    indices: [
      'IDX_sandbox_table_auto_stop_at(auto_stop_at)',
      'IDX_sandbox_table_due_delete(auto_delete_at,id)',
      'IDX_sandbox_table_image(image)',
      'IDX_sandbox_table_operation_in_flight(id)',
      'IDX_sandbox_table_state(state)',
      'IDX_sandbox_table_tenant(id,tenant)',
      'IDX_sandbox_table_tenant_usage(cpus,memory_bytes,state,tenant)',
      'UQ_sandbox_table_tenant_live_name!(name,tenant)',
    ],
  },
  sandbox_label: {
    columns: ['key', 'sandbox_id', 'value'],
    primary: ['key', 'sandbox_id'],
    indices: ['IDX_sandbox_label_key_value(key,value)'],
  },
  idempotency_key: {
    columns: ['created_at', 'fingerprint', 'key', 'sandbox_id'],
    primary: ['key'],
    indices: [],
  },
  tenant_limits: {
    columns: ['max_cpus?', 'max_memory_bytes?', 'max_sandboxes?', 'tenant', 'updated_at'],
    primary: ['tenant'],
    indices: [],
  },
  resource_usage: {
    columns: ['cpu_nanos', 'live_sandboxes', 'memory_bytes', 'sandboxes', 'scope', 'updated_at'],
    primary: ['scope'],
    indices: [],
  },
  usage_hold: {
    columns: [
      'cpu_nanos',
      'created_at',
      'live_sandboxes',
      'memory_bytes',
      'sandbox_id',
      'sandboxes',
      'scope',
    ],
    primary: ['sandbox_id', 'scope'],
    indices: [],
  },
  sandbox_access_token: {
    columns: ['created_at', 'sandbox_id', 'sealed_token?'],
    primary: ['sandbox_id'],
    indices: [],
  },
  api_key: {
    columns: ['created_at', 'id', 'key_hash', 'last_used_at?', 'name', 'revoked_at?', 'tenant'],
    primary: ['id'],
    indices: ['IDX_api_key_tenant(tenant)'],
  },
  sandbox_event: {
    columns: ['at', 'id', 'payload', 'sandbox_id', 'tenant?', 'type'],
    primary: ['id'],
    indices: [
      'IDX_sandbox_event_at(at)',
      'IDX_sandbox_event_sandbox(id,sandbox_id)',
      'IDX_sandbox_event_tenant(id,tenant)',
    ],
  },
  webhook: {
    columns: [
      'created_at',
      'cursor',
      'description?',
      'events?',
      'id',
      'sealed_secret',
      'tenant?',
      'url',
    ],
    primary: ['id'],
    indices: [],
  },
  webhook_delivery: {
    columns: [
      'attempts',
      'created_at',
      'event_id?',
      'event_type',
      'id',
      'lease_token?',
      'lease_until?',
      'next_attempt_at',
      'payload',
      'sandbox_id',
      'status',
      'webhook_id',
    ],
    primary: ['id'],
    indices: [
      'IDX_webhook_delivery_due(next_attempt_at,status)',
      'IDX_webhook_delivery_order(id,sandbox_id,webhook_id)',
    ],
  },
  webhook_attempt: {
    columns: [
      'at',
      'attempt',
      'delivery_id',
      'duration_ms',
      'error?',
      'id',
      'status_code?',
      'webhook_id',
    ],
    primary: ['id'],
    indices: ['IDX_webhook_attempt_delivery(delivery_id,id)'],
  },
};

/** What the entities would still change in tenant_limits: nothing, if migration and entity agree. */
async function pendingTenantLimitsChanges(dataSource: DataSource): Promise<string[]> {
  return pendingChanges(dataSource, 'tenant_limits');
}

/** What the entities would still change in sandbox_table: nothing, if migrations and entity agree. */
async function pendingSandboxTableChanges(dataSource: DataSource): Promise<string[]> {
  return pendingChanges(dataSource, 'sandbox_table');
}

/** What the entities would still change in a table: nothing, if migrations and entity agree. */
async function pendingChanges(dataSource: DataSource, table: string): Promise<string[]> {
  const log = await dataSource.driver.createSchemaBuilder().log();
  return log.upQueries.map((q) => q.query).filter((query) => query.includes(`"${table}"`));
}

/** The keys the resource release added to info and spec; older blobs lack them. */
const RESOURCE_INFO_KEYS = ['pidsLimit', 'runtime', 'disk', 'logDirQuota'];
const RESOURCE_SPEC_KEYS = ['pidsLimit', 'diskBytes', 'disk', 'runtime'];

/** What an upgraded row without the resource keys reads as. */
const RESOURCE_INFO_DEFAULTS = { pidsLimit: null, runtime: 'runc', disk: null, logDirQuota: null };
const RESOURCE_SPEC_DEFAULTS = { pidsLimit: null, diskBytes: null, disk: null, runtime: 'runc' };

/** INSERTs a row of plain column values, with the driver's placeholder syntax. */
async function insertRaw(
  dataSource: DataSource,
  table: string,
  values: Record<string, unknown>,
): Promise<void> {
  const columns = Object.keys(values);
  const placeholders = columns.map((_, i) =>
    dataSource.options.type === 'postgres' ? `$${i + 1}` : '?',
  );
  await dataSource.query(
    `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${placeholders.join(', ')})`,
    Object.values(values),
  );
}

/** cpus and memory_bytes of every row, as numbers (PostgreSQL returns bigint as a string). */
async function resourceColumns(
  dataSource: DataSource,
): Promise<Record<string, { cpus: number | null; memoryBytes: number | null }>> {
  const rows = await dataSource.query<{ id: string; cpus: unknown; memory_bytes: unknown }[]>(
    `SELECT id, cpus, memory_bytes FROM sandbox_table`,
  );
  const num = (value: unknown): number | null => (value === null ? null : Number(value));
  return Object.fromEntries(
    rows.map((r) => [r.id, { cpus: num(r.cpus), memoryBytes: num(r.memory_bytes) }]),
  );
}

const GiB = 1_073_741_824;

/**
 * A database at the previous release (before AddResourceColumns) holding live, stopped and deleted
 * sandboxes as that release wrote them: lifecycle columns set, no resource keys in info or spec.
 * One live row carries values no release wrote (a string cpus, fractional memory), which the
 * back-fill must survive.
 */
async function seedPreviousRelease(options: DataSourceOptions): Promise<void> {
  const previous = await initializeDataSource({
    ...options,
    migrations: META_STORE_MIGRATIONS.slice(0, 2),
  });
  try {
    const row = async (
      overrides: Partial<SandboxInfo> & Pick<SandboxInfo, 'id' | 'state'>,
      columns: Record<string, unknown> = {},
    ): Promise<void> => {
      const info: Record<string, unknown> = {
        ...makeSandboxInfo({ operation: null, instanceId: 'prev-instance', ...overrides }),
      };
      for (const key of RESOURCE_INFO_KEYS) delete info[key];
      const spec: Record<string, unknown> = {
        ...makeSandboxSpec({ cpus: info.cpus as number | null }),
      };
      for (const key of RESOURCE_SPEC_KEYS) delete spec[key];
      await insertRaw(previous, 'sandbox_table', {
        id: overrides.id,
        state: overrides.state,
        image: 'alpine:3.20',
        labels: JSON.stringify(info.labels),
        instance_id: 'prev-instance',
        created_at: 1_700_000_000_000,
        spec: JSON.stringify(spec),
        info: JSON.stringify(info),
        machine_version: 'v1',
        version: 5,
        ...columns,
      });
    };
    await row(
      {
        id: 'prev-live-a',
        state: 'running',
        cpus: 1.5,
        memoryBytes: GiB / 2,
        labels: { team: 'b' },
        autoStopAt: '2030-01-01T00:00:00.000Z',
      },
      { auto_stop_at: Date.parse('2030-01-01T00:00:00.000Z') },
    );
    await row({ id: 'prev-live-b', state: 'pending', cpus: null, memoryBytes: GiB });
    await row({ id: 'prev-live-c', state: 'running', cpus: 0.25, memoryBytes: null });
    await row({
      id: 'prev-odd',
      state: 'running',
      cpus: '2' as unknown as number,
      memoryBytes: 1000.6,
    });
    await row({ id: 'prev-stopped', state: 'stopped', cpus: 4, memoryBytes: 4 * GiB });
    await row({ id: 'prev-deleted', state: 'deleted', cpus: 8, memoryBytes: 8 * GiB });
    await insertRaw(previous, 'sandbox_label', {
      sandbox_id: 'prev-live-a',
      key: 'team',
      value: 'b',
    });
    await insertRaw(previous, 'idempotency_key', {
      key: 'idem-prev',
      fingerprint: 'fp',
      sandbox_id: 'prev-live-a',
      created_at: Date.now(),
    });
  } finally {
    await previous.destroy();
  }
}

/**
 * After upgrading a seedPreviousRelease database: every row kept, the resource columns back-filled
 * from the info blobs, the committed totals right at once, and the records read with defaults.
 */
async function expectUpgradedPreviousRelease(dataSource: DataSource): Promise<void> {
  const store = new SandboxMetaStore(dataSource, new MemoryKeyValueStore(), testKeyring());
  expect(await resourceColumns(dataSource)).toEqual({
    'prev-live-a': { cpus: 1.5, memoryBytes: GiB / 2 },
    'prev-live-b': { cpus: null, memoryBytes: GiB },
    'prev-live-c': { cpus: 0.25, memoryBytes: null },
    // Not a JSON number: no limit. A fraction of a byte: rounded for the bigint column.
    'prev-odd': { cpus: null, memoryBytes: 1001 },
    'prev-stopped': { cpus: 4, memoryBytes: 4 * GiB },
    'prev-deleted': { cpus: 8, memoryBytes: 8 * GiB },
  });
  expect(await store.committedResources()).toEqual({
    sandboxes: 4,
    cpus: 1.75,
    memoryBytes: GiB / 2 + GiB + 1001,
  });

  const record = await store.load('prev-live-a');
  expect(record?.version).toBe(5);
  expect(record?.info).toMatchObject({
    state: 'running',
    cpus: 1.5,
    memoryBytes: GiB / 2,
    autoStopAt: '2030-01-01T00:00:00.000Z',
    labels: { team: 'b' },
    ...RESOURCE_INFO_DEFAULTS,
  });
  expect(record?.spec).toMatchObject({ cpus: 1.5, ...RESOURCE_SPEC_DEFAULTS });
  // Rebuilding the table (SQLite) must not cascade-delete the rows that reference it.
  expect((await store.list({ labels: { team: 'b' }, limit: 10 })).items.map((i) => i.id)).toEqual([
    'prev-live-a',
  ]);
  expect(await dataSource.query(`SELECT key FROM idempotency_key`)).toEqual([{ key: 'idem-prev' }]);
  await expectEnvSealed(dataSource, store, ['prev-live-a', 'prev-stopped'], ['prev-deleted']);
  const [deadline] = await dataSource.query<{ auto_stop_at: unknown }[]>(
    `SELECT auto_stop_at FROM sandbox_table WHERE id = 'prev-live-a'`,
  );
  expect(Number(deadline.auto_stop_at)).toBe(Date.parse('2030-01-01T00:00:00.000Z'));
  expect(await pendingSandboxTableChanges(dataSource)).toEqual([]);

  // The first write after the upgrade stores the complete info; leaving the live states releases
  // the sandbox's share of the totals.
  const stopped = await store.archiveCache(
    'prev-live-a',
    { state: 'stopped', operation: null },
    { expectedVersion: 5 },
  );
  expect(stopped.info).toMatchObject({ state: 'stopped', ...RESOURCE_INFO_DEFAULTS });
  expect(await store.committedResources()).toEqual({
    sandboxes: 3,
    cpus: 0.25,
    memoryBytes: GiB + 1001,
  });
}

/**
 * A database at the first release (only the first migration run) holding a sandbox with labels and
 * an idempotency key, written the way that release wrote them: no lifecycle keys in info or spec.
 */
async function seedFirstRelease(options: DataSourceOptions): Promise<void> {
  const first = await initializeDataSource({ ...options, migrations: [META_STORE_MIGRATIONS[0]] });
  try {
    const info: Record<string, unknown> = {
      ...makeSandboxInfo({
        id: 'sbx-old',
        state: 'stopped',
        operation: null,
        labels: { team: 'a' },
      }),
    };
    for (const key of [
      'autoStopAt',
      'autoDeleteAt',
      'protected',
      'maxLifetimeSeconds',
      'lastActivityAt',
      ...RESOURCE_INFO_KEYS,
    ]) {
      delete info[key];
    }
    const spec: Record<string, unknown> = { ...makeSandboxSpec({ labels: { team: 'a' } }) };
    delete spec.maxLifetimeSeconds;
    for (const key of RESOURCE_SPEC_KEYS) delete spec[key];
    const p = first.options.type === 'postgres' ? (n: number) => `$${n}` : () => '?';
    await first.query(
      `INSERT INTO sandbox_table (id, name, state, operation, image, labels, instance_id, created_at, spec, info, machine_version, version)
       VALUES (${[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map(p).join(', ')})`,
      [
        'sbx-old',
        null,
        'stopped',
        null,
        'alpine:3.20',
        '{"team":"a"}',
        'old-instance',
        1_700_000_000_000,
        JSON.stringify(spec),
        JSON.stringify(info),
        'v1',
        3,
      ],
    );
    await first.query(
      `INSERT INTO sandbox_label (sandbox_id, key, value) VALUES (${p(1)}, ${p(2)}, ${p(3)})`,
      ['sbx-old', 'team', 'a'],
    );
    await first.query(
      `INSERT INTO idempotency_key (key, fingerprint, sandbox_id, created_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)})`,
      ['idem-old', 'fp', 'sbx-old', Date.now()],
    );
  } finally {
    await first.destroy();
  }
}

/** After upgrading a seedFirstRelease database: nothing lost, and the old row reads with defaults. */
async function expectUpgradedFirstRelease(dataSource: DataSource): Promise<void> {
  const store = new SandboxMetaStore(dataSource, new MemoryKeyValueStore(), testKeyring());
  const record = await store.load('sbx-old');
  expect(record?.version).toBe(3);
  expect(record?.info).toMatchObject({
    autoStopAt: null,
    autoDeleteAt: null,
    protected: false,
    maxLifetimeSeconds: null,
    lastActivityAt: null,
    labels: { team: 'a' },
  });
  expect(record?.info).toMatchObject(RESOURCE_INFO_DEFAULTS);
  expect(record?.spec.maxLifetimeSeconds).toBeNull();
  expect(record?.spec).toMatchObject(RESOURCE_SPEC_DEFAULTS);
  // Rebuilding the table (SQLite) must not cascade-delete the rows that reference it.
  expect((await store.list({ labels: { team: 'a' }, limit: 10 })).items.map((i) => i.id)).toEqual([
    'sbx-old',
  ]);
  // The first release stored cpus and memoryBytes in info already: back-filled into the columns.
  expect(await resourceColumns(dataSource)).toEqual({
    'sbx-old': { cpus: 1, memoryBytes: 268_435_456 },
  });
  // A stopped sandbox holds nothing.
  expect(await store.committedResources()).toEqual({ sandboxes: 0, cpus: 0, memoryBytes: 0 });
  expect(await dataSource.query(`SELECT key FROM idempotency_key`)).toEqual([{ key: 'idem-old' }]);
  await expectEnvSealed(dataSource, store, ['sbx-old'], []);
  const [row] = await dataSource.query<
    { auto_stop_at: unknown; auto_delete_at: unknown; protected: unknown }[]
  >(`SELECT auto_stop_at, auto_delete_at, protected FROM sandbox_table WHERE id = 'sbx-old'`);
  expect(row.auto_stop_at).toBeNull();
  expect(row.auto_delete_at).toBeNull();
  expect([false, 0]).toContain(row.protected);
  expect(await pendingSandboxTableChanges(dataSource)).toEqual([]);
}

/** The raw spec column of each row, parsed. */
async function rawSpecs(dataSource: DataSource): Promise<Record<string, Record<string, unknown>>> {
  const rows = await dataSource.query<{ id: string; spec: string }[]>(
    `SELECT id, spec FROM sandbox_table`,
  );
  return Object.fromEntries(rows.map((r) => [r.id, JSON.parse(r.spec) as Record<string, unknown>]));
}

/**
 * After SealEnvValues: the seeded value ('secret-value', in clear before) is nowhere in the
 * table; each kept sandbox's env is sealed and opens with the key; a deleted one's is gone; the
 * idempotency fingerprints are keyed.
 */
async function expectEnvSealed(
  dataSource: DataSource,
  store: SandboxMetaStore,
  kept: string[],
  deleted: string[],
): Promise<void> {
  const dump = JSON.stringify(await dataSource.query(`SELECT * FROM sandbox_table`));
  expect(dump).not.toContain('secret-value');
  const specs = await rawSpecs(dataSource);
  for (const id of kept) {
    expect(specs[id]).not.toHaveProperty('env');
    const sealed = specs[id].sealedEnv as Record<string, string>;
    expect(Object.keys(sealed)).toEqual(['TOKEN']);
    expect(isSealedValue(sealed.TOKEN)).toBe(true);
    expect(store.openEnv((await store.load(id))!)).toEqual({ TOKEN: 'secret-value' });
  }
  for (const id of deleted) expect(specs[id]).toMatchObject({ sealedEnv: {} });
  const fingerprints = await dataSource.query<{ fingerprint: string }[]>(
    `SELECT fingerprint FROM idempotency_key`,
  );
  expect(fingerprints.map((f) => f.fingerprint)).toEqual([testKeyring().fingerprint('fp')]);
}

/**
 * A database at the release before SealEnvValues with more rows than one page of the migration
 * (500): env values in clear, every third sandbox deleted.
 */
const BEFORE_SEALING_ROWS = 1_201;
async function seedBeforeSealing(options: DataSourceOptions): Promise<void> {
  const before = await initializeDataSource({ ...options, migrations: META_STORE_MIGRATIONS });
  try {
    const p = before.options.type === 'postgres' ? (n: number) => `$${n}` : () => '?';
    for (let i = 0; i < BEFORE_SEALING_ROWS; i += 1) {
      const id = `seal-${String(i).padStart(5, '0')}`;
      const state = i % 3 === 0 ? 'deleted' : 'running';
      const info = makeSandboxInfo({ id, state, operation: null, envKeys: ['A', 'TOKEN'] });
      const spec = makeSandboxSpec({ env: { A: `alpha-${i}`, TOKEN: 'secret-value' } });
      await before.query(
        `INSERT INTO sandbox_table (id, state, image, labels, instance_id, created_at, spec, info, machine_version, version)
         VALUES (${[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(p).join(', ')})`,
        [
          id,
          state,
          'alpine:3.20',
          '{}',
          'i',
          0,
          JSON.stringify(spec),
          JSON.stringify(info),
          'v1',
          1,
        ],
      );
    }
  } finally {
    await before.destroy();
  }
}

/** Runs the upgrade over a seedBeforeSealing database, checks it, and then rolls it back. */
async function expectSealingUpgrade(options: DataSourceOptions): Promise<void> {
  await seedBeforeSealing(options);
  const upgraded = await initializeDataSource(options);
  try {
    const dump = JSON.stringify(await upgraded.query(`SELECT spec, info FROM sandbox_table`));
    expect(dump).not.toContain('secret-value');
    expect(dump).not.toContain('alpha-');
    const specs = await rawSpecs(upgraded);
    expect(Object.keys(specs)).toHaveLength(BEFORE_SEALING_ROWS);
    const store = new SandboxMetaStore(upgraded, new MemoryKeyValueStore(), testKeyring());
    for (const i of [0, 1, 2, 500, 501, 1_000, 1_199, 1_200]) {
      const id = `seal-${String(i).padStart(5, '0')}`;
      const record = (await store.load(id))!;
      expect(record.info.envKeys).toEqual(['A', 'TOKEN']);
      expect(store.openEnv(record)).toEqual(
        i % 3 === 0 ? {} : { A: `alpha-${i}`, TOKEN: 'secret-value' },
      );
    }
    // Rolled back (the migrations that run after it first: CreateEventTables,
    // BackfillSandboxNetwork,
    // CreateApiKeyTable, AddSandboxAccessTokens, CreateTenantLimits, AddSandboxTenant,
    // BackfillMachineFailure and BackfillStoredBlobs), the kept values are in clear again; a
    // deleted sandbox's stay gone.
    const after = metaStoreMigrations(testKeyring()).findIndex(
      (m) => m.name === 'SealEnvValues1796183903821',
    );
    const undo = metaStoreMigrations(testKeyring()).length - after;
    for (let i = 0; i < undo; i += 1) await upgraded.undoLastMigration({ transaction: 'all' });
    const reverted = await rawSpecs(upgraded);
    expect(reverted['seal-00001']).toMatchObject({ env: { A: 'alpha-1', TOKEN: 'secret-value' } });
    expect(reverted['seal-00001']).not.toHaveProperty('sealedEnv');
    expect(reverted['seal-00000']).toMatchObject({ env: {} });
  } finally {
    await upgraded.destroy();
  }
}

/** The release before BackfillStoredBlobs: every migration before it. */
function migrationsBeforeBackfill(): ReturnType<typeof metaStoreMigrations> {
  const all = metaStoreMigrations(testKeyring());
  return all.slice(
    0,
    all.findIndex((m) => m.name === 'BackfillStoredBlobs1796200000000'),
  );
}

/**
 * A database at the release before BackfillStoredBlobs holding rows as older releases left them:
 * info and spec without the later fields (one with a stored null that must stay), a machine
 * snapshot without logDirQuota and protected, and a row whose info is not JSON at all.
 */
async function seedBeforeBackfill(options: DataSourceOptions): Promise<void> {
  const before = await initializeDataSource({ ...options, migrations: migrationsBeforeBackfill() });
  try {
    const p = before.options.type === 'postgres' ? (n: number) => `$${n}` : () => '?';
    const insert = (id: string, info: string, spec: string, snapshot: string | null) =>
      before.query(
        `INSERT INTO sandbox_table (id, state, image, labels, instance_id, created_at, spec, info, machine_snapshot, machine_version, version)
         VALUES (${[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(p).join(', ')})`,
        [id, 'running', 'alpine:3.20', '{}', 'i', 0, spec, info, snapshot, 'v1', 1],
      );
    const oldInfo = (id: string, overrides: Partial<SandboxInfo>): string => {
      const info: Record<string, unknown> = {
        ...makeSandboxInfo({ id, state: 'running', operation: null, ...overrides }),
      };
      for (const key of ['fromPool', 'logDirQuota', 'protected', 'runtime']) delete info[key];
      return JSON.stringify(info);
    };
    const oldSpec: Record<string, unknown> = { ...makeSandboxSpec(), sealedEnv: {}, runtime: null };
    delete oldSpec.env;
    delete oldSpec.maxLifetimeSeconds;
    const snapshot = {
      status: 'active',
      value: 'running',
      context: { sandboxId: 'bf-b', state: 'running', stateHistory: [] },
      historyValue: {},
      children: {},
    };
    await insert('bf-a', oldInfo('bf-a', { autoStopAt: null }), JSON.stringify(oldSpec), null);
    await insert('bf-b', oldInfo('bf-b', {}), JSON.stringify(oldSpec), JSON.stringify(snapshot));
    await insert('bf-c', '{not json', JSON.stringify(oldSpec), null);
  } finally {
    await before.destroy();
  }
}

/** After BackfillStoredBlobs: every blob complete, stored values kept, the bad row left as it was. */
async function expectBackfilled(dataSource: DataSource): Promise<void> {
  const rows = await dataSource.query<
    { id: string; info: string; spec: string; machine_snapshot: string | null }[]
  >(`SELECT id, info, spec, machine_snapshot FROM sandbox_table ORDER BY id`);
  const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
  for (const id of ['bf-a', 'bf-b']) {
    const info = JSON.parse(byId[id].info) as Record<string, unknown>;
    expect(Object.keys(info).sort()).toEqual([...SANDBOX_INFO_FIELDS].sort());
    expect(info).toMatchObject({ fromPool: false, logDirQuota: null, protected: false });
    expect(info).toMatchObject({ runtime: 'runc', autoStopAt: null });
    expect(JSON.parse(byId[id].spec)).toMatchObject({ runtime: 'runc', maxLifetimeSeconds: null });
  }
  expect(JSON.parse(byId['bf-b'].machine_snapshot ?? 'null')).toMatchObject({
    value: 'running',
    context: {
      sandboxId: 'bf-b',
      logDirQuota: null,
      protected: false,
      lastFailure: null,
      stateHistory: [],
    },
    historyValue: {},
  });
  expect(byId['bf-a'].machine_snapshot).toBeNull();
  expect(byId['bf-c'].info).toBe('{not json');

  // The records read through the schema; the unreadable one is that sandbox's error alone.
  const store = new SandboxMetaStore(dataSource, new MemoryKeyValueStore(), testKeyring());
  expect((await store.load('bf-a'))?.info.runtime).toBe('runc');
  await expect(store.load('bf-c')).rejects.toMatchObject({ code: 'RECORD_CORRUPT' });
  expect((await store.loadMany(['bf-a', 'bf-b', 'bf-c'])).map((r) => r.info.id)).toEqual([
    'bf-a',
    'bf-b',
  ]);
  expect(await pendingSandboxTableChanges(dataSource)).toEqual([]);
}

async function expectBackfillUpgrade(options: DataSourceOptions): Promise<void> {
  await seedBeforeBackfill(options);
  const upgraded = await initializeDataSource(options);
  try {
    await expectBackfilled(upgraded);
  } finally {
    await upgraded.destroy();
  }
}

/** The release before AddSandboxTenant: every migration before it. */
function migrationsBeforeTenant(): ReturnType<typeof metaStoreMigrations> {
  const all = metaStoreMigrations(testKeyring());
  return all.slice(
    0,
    all.findIndex((m) => m.name === 'AddSandboxTenant1796412000000'),
  );
}

/**
 * A database at the release before tenants: a live sandbox named `web`, a deleted one of the
 * same name (names were unique among live sandboxes only), a stopped one, and a row whose info is
 * not JSON, all with complete blobs of that release (no `tenant` key).
 */
async function seedBeforeTenant(options: DataSourceOptions): Promise<void> {
  const before = await initializeDataSource({ ...options, migrations: migrationsBeforeTenant() });
  try {
    const row = async (
      id: string,
      state: SandboxInfo['state'],
      name: string | null,
      info?: string,
    ) => {
      const blob: Record<string, unknown> = {
        ...makeSandboxInfo({ id, name, state, operation: null, cpus: 1, memoryBytes: GiB }),
      };
      delete blob.tenant;
      const spec: Record<string, unknown> = { ...makeSandboxSpec(), sealedEnv: {} };
      delete spec.env;
      await insertRaw(before, 'sandbox_table', {
        id,
        name,
        state,
        image: 'alpine:3.20',
        labels: '{}',
        instance_id: 'i',
        created_at: 0,
        spec: JSON.stringify(spec),
        info: info ?? JSON.stringify(blob),
        machine_version: 'v1',
        version: 2,
        cpus: 1,
        memory_bytes: GiB,
      });
    };
    await row('tn-a', 'running', 'web');
    await row('tn-b', 'deleted', 'web');
    await row('tn-c', 'stopped', null);
    await row('tn-d', 'running', null, '{not json');
  } finally {
    await before.destroy();
  }
}

/**
 * After AddSandboxTenant (and CreateTenantLimits): every readable info blob says `tenant: null`,
 * the column says '' (no tenant), the rows read and resolve by name as before, names are unique
 * per tenant from now on, and the migrations roll back and forward again.
 */
async function expectTenantUpgrade(dataSource: DataSource): Promise<void> {
  const rows = await dataSource.query<{ id: string; tenant: string; info: string }[]>(
    `SELECT id, tenant, info FROM sandbox_table ORDER BY id`,
  );
  expect(rows.map((r) => [r.id, r.tenant])).toEqual([
    ['tn-a', ''],
    ['tn-b', ''],
    ['tn-c', ''],
    ['tn-d', ''],
  ]);
  for (const row of rows.slice(0, 3)) {
    const info = JSON.parse(row.info) as Record<string, unknown>;
    expect(info.tenant).toBeNull();
    expect(Object.keys(info).sort()).toEqual([...SANDBOX_INFO_FIELDS].sort());
  }
  expect(rows[3].info).toBe('{not json');
  expect(await pendingSandboxTableChanges(dataSource)).toEqual([]);
  expect(await pendingTenantLimitsChanges(dataSource)).toEqual([]);

  const store = new SandboxMetaStore(dataSource, new MemoryKeyValueStore(), testKeyring());
  expect((await store.load('web'))?.info).toMatchObject({ id: 'tn-a', tenant: null });
  expect(await store.get('tn-c')).toMatchObject({ state: 'stopped', tenant: null });
  expect(await store.load('web', 'team-a')).toBeNull();

  // Down (AddSandboxTenant and the migrations after it) restores the global name index (no two
  // tenants share a name yet), and up again.
  const all = metaStoreMigrations(testKeyring());
  const tenantAt = all.findIndex((m) => m.name === 'AddSandboxTenant1796412000000');
  for (let i = tenantAt; i < all.length; i += 1) {
    await dataSource.undoLastMigration({ transaction: 'all' });
  }
  expect((await schemaOf(dataSource)).sandbox_table.indices).toContain(
    'UQ_sandbox_table_live_name!(name)',
  );
  await dataSource.runMigrations({ transaction: 'all' });
  expect(await schemaOf(dataSource)).toEqual(expectedSchema);

  // From now on a tenant may take a name the tenant-less sandboxes hold, and the other way round.
  const insert = (id: string, tenant: string | null) =>
    store.insert({
      info: makeSandboxInfo({ id, name: 'web', tenant, state: 'running', operation: null }),
      spec: makeSandboxSpec(),
      machineSnapshot: null,
      machineVersion: 'v1',
    });
  expect((await insert('tn-e', 'team-a')).created).toBe(true);
  await expect(insert('tn-f', null)).rejects.toMatchObject({ code: 'NAME_CONFLICT' });
  await expect(insert('tn-g', 'team-a')).rejects.toMatchObject({ code: 'NAME_CONFLICT' });
  expect((await store.load('web', 'team-a'))?.info.id).toBe('tn-e');
  expect((await store.load('web'))?.info.id).toBe('tn-a');
}

async function expectTenantMigration(options: DataSourceOptions): Promise<void> {
  await seedBeforeTenant(options);
  const upgraded = await initializeDataSource(options);
  try {
    await expectTenantUpgrade(upgraded);
  } finally {
    await upgraded.destroy();
  }
}

/**
 * A database at the release before BackfillSandboxNetwork: complete blobs without `network`, one
 * row that has it already (kept) and one whose spec is not JSON (left as it is).
 */
async function expectNetworkBackfill(options: DataSourceOptions): Promise<void> {
  const all = metaStoreMigrations(testKeyring());
  const before = await initializeDataSource({
    ...options,
    migrations: all.slice(
      0,
      all.findIndex((m) => m.name === 'BackfillSandboxNetwork1796700000000'),
    ),
  });
  try {
    const p = before.options.type === 'postgres' ? (n: number) => `$${n}` : () => '?';
    const insert = (id: string, info: object, spec: string) =>
      before.query(
        `INSERT INTO sandbox_table (id, state, image, labels, instance_id, created_at, spec, info, machine_snapshot, machine_version, version)
         VALUES (${[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(p).join(', ')})`,
        [id, 'running', 'alpine:3.20', '{}', 'i', 0, spec, JSON.stringify(info), null, 'v1', 1],
      );
    const withoutNetwork = (value: object): Record<string, unknown> => {
      const copy: Record<string, unknown> = { ...value };
      delete copy.network;
      return copy;
    };
    const info = (id: string) => makeSandboxInfo({ id, state: 'running', operation: null });
    const sealed = (id: string) => makeSealedSandboxSpec({}, id);
    await insert(
      'net-a',
      withoutNetwork(info('net-a')),
      JSON.stringify(withoutNetwork(sealed('net-a'))),
    );
    await insert(
      'net-b',
      { ...info('net-b'), network: 'none' },
      JSON.stringify({ ...sealed('net-b'), network: 'none' }),
    );
    await insert('net-c', withoutNetwork(info('net-c')), '{not json');
  } finally {
    await before.destroy();
  }
  const upgraded = await initializeDataSource(options);
  try {
    const store = new SandboxMetaStore(upgraded, new MemoryKeyValueStore(), testKeyring());
    const a = await store.load('net-a');
    expect([a?.info.network, a?.spec.network]).toEqual(['bridge', 'bridge']);
    const b = await store.load('net-b');
    expect([b?.info.network, b?.spec.network]).toEqual(['none', 'none']);
    await expect(store.load('net-c')).rejects.toMatchObject({ code: 'RECORD_CORRUPT' });
    const [raw] = await upgraded.query<{ info: unknown }[]>(
      `SELECT info FROM sandbox_table WHERE id = 'net-c'`,
    );
    const infoC = typeof raw.info === 'string' ? JSON.parse(raw.info) : raw.info;
    expect(infoC).toMatchObject({ network: 'bridge' });
  } finally {
    await upgraded.destroy();
  }
}

/**
 * A database at the release before CreateResourceUsage holding sandboxes of two tenants and none
 * in every state: upgraded, its counters equal the sums over the rows at once (nano-CPUs rounded
 * per row, like the store adds them), and the first write moves them.
 */
async function expectUsageBackfill(options: DataSourceOptions): Promise<void> {
  const all = metaStoreMigrations(testKeyring());
  const before = await initializeDataSource({
    ...options,
    migrations: all.slice(
      0,
      all.findIndex((m) => m.name === 'CreateResourceUsage1796910000000'),
    ),
  });
  const rows: [string, string | null, SandboxInfo['state'], number | null, number | null][] = [
    ['use-a1', 'team-a', 'running', 0.1, GiB],
    ['use-a2', 'team-a', 'pending', 0.2, GiB],
    ['use-a3', 'team-a', 'stopped', 1, 2 * GiB],
    ['use-a4', 'team-a', 'deleted', 8, 8 * GiB],
    ['use-b1', 'team-b', 'stopped', null, null],
    ['use-n1', null, 'running', 2, 512],
    ['use-n2', null, 'deleted', 4, 512],
  ];
  try {
    for (const [id, tenant, state, cpus, memoryBytes] of rows) {
      const info = makeSandboxInfo({ id, tenant, state, cpus, memoryBytes, operation: null });
      await insertRaw(before, 'sandbox_table', {
        id,
        tenant: tenant ?? '',
        state,
        image: info.image,
        labels: '{}',
        instance_id: info.instanceId,
        created_at: 1_700_000_000_000,
        spec: JSON.stringify(makeSealedSandboxSpec()),
        info: JSON.stringify(info),
        machine_version: 'v1',
        version: 1,
        cpus,
        memory_bytes: memoryBytes,
      });
    }
  } finally {
    await before.destroy();
  }
  const upgraded = await initializeDataSource(options);
  try {
    const store = new SandboxMetaStore(upgraded, new MemoryKeyValueStore(), testKeyring());
    expect(await store.usageDrift()).toEqual([]);
    expect(await store.committedResources()).toEqual({
      sandboxes: 3,
      cpus: 2.3,
      memoryBytes: 2 * GiB + 512,
    });
    expect(await store.tenantUsage('team-a')).toEqual({
      sandboxes: 3,
      liveSandboxes: 2,
      cpus: 1.3,
      memoryBytes: 4 * GiB,
    });
    expect(await store.tenantUsage('team-b')).toEqual({
      sandboxes: 1,
      liveSandboxes: 0,
      cpus: 0,
      memoryBytes: 0,
    });
    await store.archiveCache(
      'use-a1',
      { state: 'deleted', operation: null },
      { expectedVersion: 1 },
    );
    expect(await store.tenantUsage('team-a')).toMatchObject({ sandboxes: 2, cpus: 1.2 });
    expect(await store.committedResources()).toMatchObject({ sandboxes: 2, cpus: 2.2 });
    expect(await store.usageDrift()).toEqual([]);
  } finally {
    await upgraded.destroy();
  }
}

describe('migrations', () => {
  it('back-fill the network of sandboxes made before it was a setting, on SQLite', async () => {
    const file = tempSqlite();
    try {
      await expectNetworkBackfill(
        buildDataSourceOptions(loadConfig({ SQLITE_PATH: file.path }).store, testKeyring()),
      );
    } finally {
      file.remove();
    }
  });

  it('seal the env values a SQLite database held in clear, page after page, and roll back', async () => {
    const file = tempSqlite();
    try {
      await expectSealingUpgrade(
        buildDataSourceOptions(loadConfig({ SQLITE_PATH: file.path }).store, testKeyring()),
      );
    } finally {
      file.remove();
    }
  });

  it('complete the info, spec and snapshot blobs older releases wrote, on SQLite', async () => {
    const file = tempSqlite();
    try {
      await expectBackfillUpgrade(
        buildDataSourceOptions(loadConfig({ SQLITE_PATH: file.path }).store, testKeyring()),
      );
    } finally {
      file.remove();
    }
  });

  it('add tenants to a SQLite database: back-fill, per-tenant names, down and up again', async () => {
    const file = tempSqlite();
    try {
      await expectTenantMigration(
        buildDataSourceOptions(loadConfig({ SQLITE_PATH: file.path }).store, testKeyring()),
      );
    } finally {
      file.remove();
    }
  });

  it('back-fill the usage counters from the rows, on SQLite', async () => {
    const file = tempSqlite();
    try {
      await expectUsageBackfill(
        buildDataSourceOptions(loadConfig({ SQLITE_PATH: file.path }).store, testKeyring()),
      );
    } finally {
      file.remove();
    }
  });

  it("let SQLite sum the tenants' usage through the state index, never reading deleted rows", async () => {
    const file = tempSqlite();
    const dataSource = await initializeDataSource(
      buildDataSourceOptions(loadConfig({ SQLITE_PATH: file.path }).store, testKeyring()),
    );
    try {
      // Ten tenants, mostly deleted history; team-3 holds 1 running and 1 stopped per 100 rows.
      await dataSource.query(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
         INSERT INTO sandbox_table (id, tenant, state, image, labels, instance_id, created_at,
           spec, info, machine_version, version, cpus, memory_bytes)
         SELECT printf('sbx-%05d', i), 'team-' || (i % 10),
           CASE WHEN i % 100 = 3 THEN 'running' WHEN i % 100 = 13 THEN 'stopped' ELSE 'deleted' END,
           'img', '{}', 'i', 0, '{}', '{}', 'v1', 1, 0.5, 1024
         FROM n`,
      );
      await dataSource.query('ANALYZE');
      const [sql, params] = buildTenantUsageQuery(dataSource.manager).getQueryAndParameters();
      const plan = await dataSource.query<{ detail: string }[]>(
        `EXPLAIN QUERY PLAN ${sql}`,
        params,
      );
      // One range of the state index per held state: deleted rows are never read.
      expect(plan.map((step) => step.detail).join('\n')).toContain(
        'USING INDEX IDX_sandbox_table_state (state=?)',
      );
      const store = new SandboxMetaStore(dataSource, new MemoryKeyValueStore(), testKeyring());
      // Rows written behind the store's back: its counters learn of them from reconcileUsage.
      expect(await store.reconcileUsage()).toContainEqual({
        scope: 'tenant:team-3',
        counter: 'sandboxes',
        stored: 0,
        truth: 100,
      });
      expect(await store.tenantUsage('team-3')).toEqual({
        sandboxes: 100,
        liveSandboxes: 50,
        cpus: 50,
        memoryBytes: 102_400,
      });
      expect(await store.tenantUsage('team-0')).toEqual({
        sandboxes: 0,
        liveSandboxes: 0,
        cpus: 0,
        memoryBytes: 0,
      });
    } finally {
      await dataSource.destroy();
      file.remove();
    }
  });

  it('build the same schema on SQLite, and running them twice is a no-op', async () => {
    const file = tempSqlite();
    const options = buildDataSourceOptions(
      loadConfig({ SQLITE_PATH: file.path }).store,
      testKeyring(),
    );
    try {
      const first = await initializeDataSource(options);
      await first.destroy();
      const second = await initializeDataSource(options);
      try {
        expect(await schemaOf(second)).toEqual(expectedSchema);
        expect(await pendingSandboxTableChanges(second)).toEqual([]);
        expect(await pendingChanges(second, 'api_key')).toEqual([]);
        expect(await pendingChanges(second, 'cluster_node')).toEqual([]);
        const history = await second.query(`SELECT name FROM ${MIGRATIONS_TABLE_NAME}`);
        expect(history).toHaveLength(metaStoreMigrations(testKeyring()).length);
      } finally {
        await second.destroy();
      }
    } finally {
      file.remove();
    }
  });

  it('upgrade a SQLite database of the first release without losing rows', async () => {
    const file = tempSqlite();
    const options = buildDataSourceOptions(
      loadConfig({ SQLITE_PATH: file.path }).store,
      testKeyring(),
    );
    try {
      await seedFirstRelease(options);
      const upgraded = await initializeDataSource(options);
      try {
        await expectUpgradedFirstRelease(upgraded);
      } finally {
        await upgraded.destroy();
      }
    } finally {
      file.remove();
    }
  });

  it('upgrade a SQLite database of the previous release, back-filling the resource columns', async () => {
    const file = tempSqlite();
    const options = buildDataSourceOptions(
      loadConfig({ SQLITE_PATH: file.path }).store,
      testKeyring(),
    );
    try {
      await seedPreviousRelease(options);
      const upgraded = await initializeDataSource(options);
      try {
        await expectUpgradedPreviousRelease(upgraded);
      } finally {
        await upgraded.destroy();
      }
    } finally {
      file.remove();
    }
  });

  it('let SQLite sum the committed resources through the state index', async () => {
    const file = tempSqlite();
    const dataSource = await initializeDataSource(
      buildDataSourceOptions(loadConfig({ SQLITE_PATH: file.path }).store, testKeyring()),
    );
    try {
      // Mostly deleted history, as in a long-running service; 1 in 50 rows live.
      await dataSource.query(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
         INSERT INTO sandbox_table (id, state, image, labels, instance_id, created_at, spec, info,
           machine_version, version, cpus, memory_bytes)
         SELECT printf('sbx-%05d', i), CASE WHEN i % 50 = 0 THEN 'running' ELSE 'deleted' END,
           'img', '{}', 'i', 0, '{}', '{}', 'v1', 1, 0.5, 1024
         FROM n`,
      );
      await dataSource.query('ANALYZE');
      const [sql, params] = buildCommittedResourcesQuery(
        dataSource.manager,
      ).getQueryAndParameters();
      const plan = await dataSource.query<{ detail: string }[]>(
        `EXPLAIN QUERY PLAN ${sql}`,
        params,
      );
      expect(plan.map((step) => step.detail).join('\n')).toContain('IDX_sandbox_table_state');
      const store = new SandboxMetaStore(dataSource, new MemoryKeyValueStore(), testKeyring());
      // Rows written behind the store's back: its counters learn of them from reconcileUsage.
      await store.reconcileUsage();
      expect(await store.usageDrift()).toEqual([]);
      expect(await store.committedResources()).toEqual({
        sandboxes: 100,
        cpus: 50,
        memoryBytes: 102_400,
      });
    } finally {
      await dataSource.destroy();
      file.remove();
    }
  });

  it('let SQLite answer the due-delete scan from the partial index once it has statistics', async () => {
    const file = tempSqlite();
    const dataSource = await initializeDataSource(
      buildDataSourceOptions(loadConfig({ SQLITE_PATH: file.path }).store, testKeyring()),
    );
    try {
      await dataSource.query(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
         INSERT INTO sandbox_table (id, state, image, labels, instance_id, created_at, spec, info,
           machine_version, version, auto_delete_at, protected)
         SELECT printf('sbx-%05d', i), CASE WHEN i % 10 = 0 THEN 'running' ELSE 'stopped' END,
           'img', '{}', 'i', 0, '{}', '{}', 'v1', 1, 1000 + i, i % 7 = 0
         FROM n`,
      );
      await dataSource.query('ANALYZE');
      const [sql, params] = buildDueForAutoDeleteQuery(
        dataSource.manager,
        1500,
        100,
      ).getQueryAndParameters();
      const plan = await dataSource.query<{ detail: string }[]>(
        `EXPLAIN QUERY PLAN ${sql}`,
        params,
      );
      expect(plan.map((step) => step.detail).join('\n')).toContain('IDX_sandbox_table_due_delete');
      expect(plan.map((step) => step.detail).join('\n')).not.toContain('TEMP B-TREE');
    } finally {
      await dataSource.destroy();
      file.remove();
    }
  });

  describe('on fresh PostgreSQL databases', () => {
    const suffix = randomBytes(4).toString('hex');
    const dbName = `sandboxd_mig_${suffix}`;
    const upgradeDbName = `sandboxd_mig_up_${suffix}`;
    const previousDbName = `sandboxd_mig_prev_${suffix}`;
    const resourcesDbName = `sandboxd_mig_res_${suffix}`;
    const sealDbName = `sandboxd_mig_seal_${suffix}`;
    const backfillDbName = `sandboxd_mig_fill_${suffix}`;
    const tenantDbName = `sandboxd_mig_tenant_${suffix}`;
    const networkDbName = `sandboxd_mig_net_${suffix}`;
    const usageDbName = `sandboxd_mig_usage_${suffix}`;
    const admin = new Client({ connectionString: TEST_DATABASE_URL });
    const urlOf = (name: string): string => {
      const url = new URL(TEST_DATABASE_URL);
      url.pathname = `/${name}`;
      return url.toString();
    };

    beforeAll(async () => {
      await admin.connect();
      await admin.query(`CREATE DATABASE ${dbName}`);
      await admin.query(`CREATE DATABASE ${upgradeDbName}`);
      await admin.query(`CREATE DATABASE ${previousDbName}`);
      await admin.query(`CREATE DATABASE ${resourcesDbName}`);
      await admin.query(`CREATE DATABASE ${sealDbName}`);
      await admin.query(`CREATE DATABASE ${backfillDbName}`);
      await admin.query(`CREATE DATABASE ${tenantDbName}`);
      await admin.query(`CREATE DATABASE ${networkDbName}`);
      await admin.query(`CREATE DATABASE ${usageDbName}`);
    });

    afterAll(async () => {
      await dropDatabase(admin, dbName);
      await dropDatabase(admin, upgradeDbName);
      await dropDatabase(admin, previousDbName);
      await dropDatabase(admin, resourcesDbName);
      await dropDatabase(admin, sealDbName);
      await dropDatabase(admin, backfillDbName);
      await dropDatabase(admin, tenantDbName);
      await dropDatabase(admin, networkDbName);
      await dropDatabase(admin, usageDbName);
      await admin.end();
    });

    it('lets several instances start at once: one migrates, none crashes', async () => {
      const options = buildDataSourceOptions(
        loadConfig({ DATABASE_URL: urlOf(dbName) }).store,
        testKeyring(),
      );
      const results = await Promise.allSettled(
        Array.from({ length: 4 }, () => initializeDataSource(options)),
      );
      const sources = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      try {
        expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
        expect(await schemaOf(sources[0])).toEqual(expectedSchema);
        expect(await pendingSandboxTableChanges(sources[0])).toEqual([]);
        expect(await pendingChanges(sources[0], 'api_key')).toEqual([]);
        const [dueDelete] = await sources[0].query<{ indexdef: string }[]>(
          `SELECT indexdef FROM pg_indexes WHERE indexname = 'IDX_sandbox_table_due_delete'`,
        );
        expect(dueDelete.indexdef).toContain(
          `(auto_delete_at, id) WHERE (((state)::text = 'stopped'::text) AND (protected = false) AND (auto_delete_at IS NOT NULL))`,
        );
        const history = await sources[0].query(`SELECT name FROM ${MIGRATIONS_TABLE_NAME}`);
        expect(history).toHaveLength(metaStoreMigrations(testKeyring()).length);
      } finally {
        await Promise.all(sources.map((s) => s.destroy()));
      }
    });

    it('answers the due-delete scan with an Index Only Scan of the partial index', async () => {
      const dataSource = await initializeDataSource(
        buildDataSourceOptions(loadConfig({ DATABASE_URL: urlOf(dbName) }).store, testKeyring()),
      );
      try {
        await dataSource.query(
          `INSERT INTO sandbox_table (id, state, image, labels, instance_id, created_at, spec, info,
             machine_version, version, auto_delete_at, protected)
           SELECT format('sbx-%s', lpad(i::text, 6, '0')),
             CASE WHEN i % 10 = 0 THEN 'running' ELSE 'stopped' END,
             'img', '{}', 'i', 0, '{}', '{}', 'v1', 1, 1000 + i, i % 7 = 0
           FROM generate_series(1, 5000) AS i`,
        );
        // VACUUM sets the visibility map, without which an index-only scan still visits the heap.
        await dataSource.query('VACUUM ANALYZE sandbox_table');
        const [sql, params] = buildDueForAutoDeleteQuery(
          dataSource.manager,
          3000,
          100,
        ).getQueryAndParameters();
        const plan = await dataSource.query<{ 'QUERY PLAN': string }[]>(`EXPLAIN ${sql}`, params);
        const text = plan.map((line) => line['QUERY PLAN']).join('\n');
        expect(text).toContain('Index Only Scan using "IDX_sandbox_table_due_delete"');
        expect(text).not.toContain('Sort');
      } finally {
        await dataSource.destroy();
      }
    });

    it('upgrade a database of the first release without losing rows', async () => {
      const options = buildDataSourceOptions(
        loadConfig({ DATABASE_URL: urlOf(upgradeDbName) }).store,
        testKeyring(),
      );
      await seedFirstRelease(options);
      const upgraded = await initializeDataSource(options);
      try {
        await expectUpgradedFirstRelease(upgraded);
      } finally {
        await upgraded.destroy();
      }
    });

    it('upgrade a database of the previous release, back-filling the resource columns', async () => {
      const options = buildDataSourceOptions(
        loadConfig({ DATABASE_URL: urlOf(previousDbName) }).store,
        testKeyring(),
      );
      await seedPreviousRelease(options);
      const upgraded = await initializeDataSource(options);
      try {
        await expectUpgradedPreviousRelease(upgraded);
      } finally {
        await upgraded.destroy();
      }
    });

    it('seal the env values a database held in clear, page after page, and roll back', async () => {
      await expectSealingUpgrade(
        buildDataSourceOptions(
          loadConfig({ DATABASE_URL: urlOf(sealDbName) }).store,
          testKeyring(),
        ),
      );
    });

    it('complete the info, spec and snapshot blobs older releases wrote', async () => {
      await expectBackfillUpgrade(
        buildDataSourceOptions(
          loadConfig({ DATABASE_URL: urlOf(backfillDbName) }).store,
          testKeyring(),
        ),
      );
    });

    it('back-fill the network of sandboxes made before it was a setting', async () => {
      await expectNetworkBackfill(
        buildDataSourceOptions(
          loadConfig({ DATABASE_URL: urlOf(networkDbName) }).store,
          testKeyring(),
        ),
      );
    });

    it('sums the committed resources through the state index', async () => {
      const dataSource = await initializeDataSource(
        buildDataSourceOptions(
          loadConfig({ DATABASE_URL: urlOf(resourcesDbName) }).store,
          testKeyring(),
        ),
      );
      try {
        // Mostly deleted history, as in a long-running service; 1 in 100 rows live.
        await dataSource.query(
          `INSERT INTO sandbox_table (id, state, image, labels, instance_id, created_at, spec, info,
             machine_version, version, cpus, memory_bytes)
           SELECT format('res-%s', lpad(i::text, 6, '0')),
             CASE WHEN i % 100 = 0 THEN 'pending' ELSE 'deleted' END,
             'img', '{}', 'i', 0, '{}', '{}', 'v1', 1, 0.1, 1024
           FROM generate_series(1, 20000) AS i`,
        );
        await dataSource.query('ANALYZE sandbox_table');
        const [sql, params] = buildCommittedResourcesQuery(
          dataSource.manager,
        ).getQueryAndParameters();
        const plan = await dataSource.query<{ 'QUERY PLAN': string }[]>(`EXPLAIN ${sql}`, params);
        expect(plan.map((line) => line['QUERY PLAN']).join('\n')).toContain(
          'IDX_sandbox_table_state',
        );
        const store = new SandboxMetaStore(dataSource, new MemoryKeyValueStore(), testKeyring());
        // Rows written behind the store's back: its counters learn of them from reconcileUsage.
        expect(await store.reconcileUsage()).toContainEqual({
          scope: 'host',
          counter: 'cpuNanos',
          stored: 0,
          truth: 20_000_000_000,
        });
        // 200 × 0.1 adds up to 20.000000000000014 in floating point; nano-CPUs add up to 20.
        expect(await store.committedResources()).toEqual({
          sandboxes: 200,
          cpus: 20,
          memoryBytes: 204_800,
        });
      } finally {
        await dataSource.destroy();
      }
    });

    it('back-fill the usage counters from the rows', async () => {
      await expectUsageBackfill(
        buildDataSourceOptions(
          loadConfig({ DATABASE_URL: urlOf(usageDbName) }).store,
          testKeyring(),
        ),
      );
    });

    it('add tenants: back-fill, per-tenant names, down and up again', async () => {
      await expectTenantMigration(
        buildDataSourceOptions(
          loadConfig({ DATABASE_URL: urlOf(tenantDbName) }).store,
          testKeyring(),
        ),
      );
    });

    it("sums the tenants' usage through the state index, reading no deleted row", async () => {
      const dataSource = await initializeDataSource(
        buildDataSourceOptions(
          loadConfig({ DATABASE_URL: urlOf(resourcesDbName) }).store,
          testKeyring(),
        ),
      );
      try {
        await dataSource.query(
          `INSERT INTO sandbox_table (id, tenant, state, image, labels, instance_id, created_at,
             spec, info, machine_version, version, cpus, memory_bytes)
           SELECT format('use-%s', lpad(i::text, 6, '0')), 'team-' || (i % 10),
             CASE WHEN i % 100 = 3 THEN 'running' WHEN i % 100 = 13 THEN 'stopped' ELSE 'deleted' END,
             'img', '{}', 'i', 0, '{}', '{}', 'v1', 1, 0.5, 1024
           FROM generate_series(1, 20000) AS i`,
        );
        await dataSource.query('VACUUM ANALYZE sandbox_table');
        const [sql, params] = buildTenantUsageQuery(dataSource.manager).getQueryAndParameters();
        const plan = await dataSource.query<{ 'QUERY PLAN': string }[]>(`EXPLAIN ${sql}`, params);
        const text = plan.map((line) => line['QUERY PLAN']).join('\n');
        // The held states' ranges of the state index: no deleted row is read.
        expect(text).toContain('using "IDX_sandbox_table_state"');
        expect(text).toMatch(/Index Cond: .*state.*ANY .*pending,running,stopped/);
        const store = new SandboxMetaStore(dataSource, new MemoryKeyValueStore(), testKeyring());
        await store.reconcileUsage();
        expect(await store.tenantUsage('team-3')).toEqual({
          sandboxes: 400,
          liveSandboxes: 200,
          cpus: 200,
          memoryBytes: 409_600,
        });
      } finally {
        await dataSource.query(`DELETE FROM sandbox_table WHERE id LIKE 'use-%'`);
        await dataSource.query(`DELETE FROM resource_usage WHERE scope LIKE 'tenant:%'`);
        await dataSource.destroy();
      }
    });

    it('answers a list with many label filters from the GIN index of labels', async () => {
      const dataSource = await initializeDataSource(
        buildDataSourceOptions(loadConfig({ DATABASE_URL: urlOf(dbName) }).store, testKeyring()),
      );
      const runner = dataSource.createQueryRunner();
      try {
        const labels = Object.fromEntries([...Array(64)].map((_, i) => [`k${i}`, `v${i}`]));
        const [sql, params] = buildListQuery(runner.manager, {
          labels,
          limit: 100,
        }).getQueryAndParameters();
        // An empty table is best read in id order: ask whether the GIN index can serve the
        // filter at all (the benchmark shows the planner picking it on a filled table).
        await runner.query('SET enable_seqscan = off');
        await runner.query('SET enable_indexscan = off');
        const plan = (await runner.query(`EXPLAIN ${sql}`, params)) as { 'QUERY PLAN': string }[];
        expect(plan.map((line) => line['QUERY PLAN']).join('\n')).toContain(
          'IDX_sandbox_table_labels',
        );
      } finally {
        await runner.release();
        await dataSource.destroy();
      }
    });
  });
});
