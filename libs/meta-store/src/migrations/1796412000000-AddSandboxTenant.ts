import { MigrationInterface, QueryRunner, TableColumn, TableIndex } from 'typeorm';
import { parseBlob, placeholders } from './1796200000000-BackfillStoredBlobs';

/** Rows read and rewritten per round trip: bounded memory on a table of any size. */
const PAGE = 500;

/**
 * Sandboxes belong to a tenant (the tenant of the API key that created them) since this release.
 *
 * - `tenant` column: '' for none (not NULL, so that the unique index below treats tenant-less
 *   sandboxes as one namespace; both drivers treat NULLs as distinct in a unique index). Every
 *   existing row is tenant-less.
 * - Live names become unique per tenant: UQ_sandbox_table_live_name (name) is replaced by
 *   UQ_sandbox_table_tenant_live_name (tenant, name) with the same predicate. Existing names were
 *   unique globally, so they are unique per tenant too.
 * - IDX_sandbox_table_tenant (tenant, id) answers a tenant's list in id order;
 *   IDX_sandbox_table_tenant_usage (tenant, state, cpus, memory_bytes) answers a tenant's usage
 *   from the index alone, one range per held state (not partial: see the entity).
 * - Every info blob gets `tenant: null` (the stored schema defaults nothing: a blob without it is
 *   corrupt). Written through parameters like BackfillStoredBlobs, so it serves both drivers; a
 *   blob that is not JSON is left as it is (it reads as RECORD_CORRUPT).
 *
 * The predicates are written out here rather than imported, so this migration stays what it was
 * when released; they match the entity's term for term (the migration test checks it).
 *
 * `down` restores the global name index, which fails while two tenants hold live sandboxes of the
 * same name (delete or rename one first); the blobs keep `tenant`, which older code strips.
 */
export class AddSandboxTenant1796412000000 implements MigrationInterface {
  name = 'AddSandboxTenant1796412000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    driverOf(queryRunner);
    await queryRunner.addColumn(
      'sandbox_table',
      new TableColumn({ name: 'tenant', type: 'varchar', length: '64', default: `''` }),
    );
    await queryRunner.dropIndex('sandbox_table', 'UQ_sandbox_table_live_name');
    await queryRunner.createIndices('sandbox_table', [
      new TableIndex({
        name: 'UQ_sandbox_table_tenant_live_name',
        columnNames: ['tenant', 'name'],
        isUnique: true,
        where: `"state" <> 'deleted' AND "name" IS NOT NULL`,
      }),
      new TableIndex({ name: 'IDX_sandbox_table_tenant', columnNames: ['tenant', 'id'] }),
      new TableIndex({
        name: 'IDX_sandbox_table_tenant_usage',
        columnNames: ['tenant', 'state', 'cpus', 'memory_bytes'],
      }),
    ]);
    await backfillInfo(queryRunner);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('sandbox_table', 'IDX_sandbox_table_tenant_usage');
    await queryRunner.dropIndex('sandbox_table', 'IDX_sandbox_table_tenant');
    await queryRunner.dropIndex('sandbox_table', 'UQ_sandbox_table_tenant_live_name');
    await queryRunner.createIndex(
      'sandbox_table',
      new TableIndex({
        name: 'UQ_sandbox_table_live_name',
        columnNames: ['name'],
        isUnique: true,
        where: `"state" <> 'deleted' AND "name" IS NOT NULL`,
      }),
    );
    await queryRunner.dropColumn('sandbox_table', 'tenant');
  }
}

/** `tenant: null` into every info blob that has no `tenant` key. */
async function backfillInfo(queryRunner: QueryRunner): Promise<void> {
  const p = placeholders(queryRunner);
  let after = '';
  for (;;) {
    const rows = (await queryRunner.query(
      `SELECT "id", "info" FROM "sandbox_table" WHERE "id" > ${p(1)} ORDER BY "id" LIMIT ${PAGE}`,
      [after],
    )) as { id: string; info: unknown }[];
    for (const row of rows) {
      const info = parseBlob(row.info);
      if (info === null || info.tenant !== undefined) continue;
      info.tenant = null;
      await queryRunner.query(`UPDATE "sandbox_table" SET "info" = ${p(1)} WHERE "id" = ${p(2)}`, [
        JSON.stringify(info),
        row.id,
      ]);
    }
    if (rows.length < PAGE) return;
    after = rows[rows.length - 1].id;
  }
}

/** The drivers this migration was written and tested for; any other fails loudly. */
function driverOf(queryRunner: QueryRunner): 'postgres' | 'better-sqlite3' {
  const type = queryRunner.connection.options.type;
  if (type === 'postgres' || type === 'better-sqlite3') return type;
  throw new Error(`AddSandboxTenant: not written for the ${type} driver`);
}
