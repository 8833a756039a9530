import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '@app/config';
import {
  MIGRATIONS_TABLE_NAME,
  buildDataSourceOptions,
  initializeDataSource,
} from '@app/meta-store';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { TEST_DATABASE_URL, tempSqlite } from './meta-store-support';

/** The schema every driver must end up with (what the entities map). */
async function schemaOf(dataSource: DataSource) {
  const runner = dataSource.createQueryRunner();
  try {
    const tables = await runner.getTables(['sandbox_table', 'sandbox_label', 'idempotency_key']);
    return Object.fromEntries(
      tables.map((t) => [
        t.name.replace(/^.*\./, ''),
        {
          columns: t.columns.map((c) => `${c.name}${c.isNullable ? '?' : ''}`).sort(),
          primary: t.primaryColumns.map((c) => c.name).sort(),
          indices: t.indices
            .map((i) => `${i.name}${i.isUnique ? '!' : ''}(${i.columnNames.join(',')})`)
            .sort(),
        },
      ]),
    );
  } finally {
    await runner.release();
  }
}

const expectedSchema = {
  sandbox_table: {
    columns: [
      'created_at',
      'deleted_at?',
      'id',
      'image',
      'info',
      'instance_id',
      'labels',
      'machine_snapshot?',
      'machine_version',
      'name?',
      'operation?',
      'spec',
      'started_at?',
      'state',
      'stopped_at?',
      'version',
    ],
    primary: ['id'],
    indices: [
      'IDX_sandbox_table_image(image)',
      'IDX_sandbox_table_operation_in_flight(id)',
      'IDX_sandbox_table_state(state)',
      'UQ_sandbox_table_live_name!(name)',
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
};

describe('migrations', () => {
  it('build the same schema on SQLite, and running them twice is a no-op', async () => {
    const file = tempSqlite();
    const options = buildDataSourceOptions(loadConfig({ SQLITE_PATH: file.path }));
    try {
      const first = await initializeDataSource(options);
      await first.destroy();
      const second = await initializeDataSource(options);
      try {
        expect(await schemaOf(second)).toEqual(expectedSchema);
        const history = await second.query(`SELECT name FROM ${MIGRATIONS_TABLE_NAME}`);
        expect(history).toHaveLength(1);
      } finally {
        await second.destroy();
      }
    } finally {
      file.remove();
    }
  });

  describe('on a fresh PostgreSQL database', () => {
    const dbName = `sandboxd_mig_${randomBytes(4).toString('hex')}`;
    const admin = new Client({ connectionString: TEST_DATABASE_URL });

    beforeAll(async () => {
      await admin.connect();
      await admin.query(`CREATE DATABASE ${dbName}`);
    });

    afterAll(async () => {
      // FORCE (PostgreSQL 13+): a failed run may leave a connection behind.
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await admin.end();
    });

    it('lets several instances start at once: one migrates, none crashes', async () => {
      const url = new URL(TEST_DATABASE_URL);
      url.pathname = `/${dbName}`;
      const options = buildDataSourceOptions(loadConfig({ DATABASE_URL: url.toString() }));
      const results = await Promise.allSettled(
        Array.from({ length: 4 }, () => initializeDataSource(options)),
      );
      const sources = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      try {
        expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
        expect(await schemaOf(sources[0])).toEqual(expectedSchema);
        const history = await sources[0].query(`SELECT name FROM ${MIGRATIONS_TABLE_NAME}`);
        expect(history).toHaveLength(1);
      } finally {
        await Promise.all(sources.map((s) => s.destroy()));
      }
    });
  });
});
