import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * Each sandbox's CPU and memory limits as columns, so the committed totals of the live sandboxes
 * are one SQL aggregate (over IDX_sandbox_table_state) instead of parsing every info blob.
 *
 * Existing rows are back-filled from their stored info, so sandboxes that were live before the
 * upgrade count against the quota straight away (left NULL, they would count as 0 until their next
 * write). A value that is not a JSON number (absent, null) stays NULL: no limit, which is what the
 * info says. Only the new columns are written; the info blobs themselves are left as they were and
 * read with their defaults.
 *
 * The SQL is written out here rather than shared, so this migration stays what it was when
 * released even if the entity or the queries change later.
 */
export class AddResourceColumns1795816735854 implements MigrationInterface {
  name = 'AddResourceColumns1795816735854';

  async up(queryRunner: QueryRunner): Promise<void> {
    // One call: on SQLite every column change rebuilds the table, so add them together.
    // 'float' is what the entity declares: double precision on PostgreSQL, REAL on SQLite.
    await queryRunner.addColumns('sandbox_table', [
      new TableColumn({ name: 'cpus', type: 'float', isNullable: true }),
      new TableColumn({ name: 'memory_bytes', type: 'bigint', isNullable: true }),
    ]);
    await queryRunner.query(backfillSql(queryRunner));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumns('sandbox_table', ['memory_bytes', 'cpus']);
  }
}

/**
 * One UPDATE per driver, since the JSON functions differ. The type test keeps a malformed value
 * (a string, say) from failing the whole upgrade: it reads as no limit. memoryBytes is rounded so a
 * fractional number cannot fail the bigint cast; the store writes whole bytes anyway.
 */
function backfillSql(queryRunner: QueryRunner): string {
  if (driverOf(queryRunner) === 'postgres') {
    return `UPDATE "sandbox_table" SET
      "cpus" = CASE WHEN jsonb_typeof("info"::jsonb -> 'cpus') = 'number'
        THEN ("info"::jsonb ->> 'cpus')::double precision END,
      "memory_bytes" = CASE WHEN jsonb_typeof("info"::jsonb -> 'memoryBytes') = 'number'
        THEN round(("info"::jsonb ->> 'memoryBytes')::numeric)::bigint END`;
  }
  return `UPDATE "sandbox_table" SET
    "cpus" = CASE WHEN json_type("info", '$.cpus') IN ('integer', 'real')
      THEN json_extract("info", '$.cpus') END,
    "memory_bytes" = CASE WHEN json_type("info", '$.memoryBytes') IN ('integer', 'real')
      THEN CAST(round(json_extract("info", '$.memoryBytes')) AS INTEGER) END`;
}

/** The drivers this migration was written and tested for; any other fails loudly. */
function driverOf(queryRunner: QueryRunner): 'postgres' | 'better-sqlite3' {
  const type = queryRunner.connection.options.type;
  if (type === 'postgres' || type === 'better-sqlite3') return type;
  throw new Error(`AddResourceColumns: not written for the ${type} driver`);
}
