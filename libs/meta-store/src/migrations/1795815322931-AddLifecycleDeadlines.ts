import { MigrationInterface, QueryRunner, TableColumn, TableIndex } from 'typeorm';

/**
 * Deadlines for the scheduler: when a live sandbox is stopped (idle timeout, max lifetime) and when
 * a stopped one is deleted, plus the flag that exempts a sandbox from auto-delete. Existing rows get
 * NULL deadlines and protected = false, which is exactly what their stored info (which lacks the
 * keys) reads as.
 *
 * The predicates are written out here rather than imported, so this migration stays what it was
 * when released even if the queries change later. They must match the entity's (and therefore the
 * queries') spelling term for term, or SQLite will not use the partial indexes; the migration test
 * checks that the entity and the migrated schema agree.
 */
export class AddLifecycleDeadlines1795815322931 implements MigrationInterface {
  name = 'AddLifecycleDeadlines1795815322931';

  async up(queryRunner: QueryRunner): Promise<void> {
    // One call: on SQLite every column change rebuilds the table, so add them together.
    await queryRunner.addColumns('sandbox_table', [
      new TableColumn({ name: 'auto_stop_at', type: 'bigint', isNullable: true }),
      new TableColumn({ name: 'auto_delete_at', type: 'bigint', isNullable: true }),
      new TableColumn({ name: 'protected', type: 'boolean', default: falseDefault(queryRunner) }),
    ]);
    await queryRunner.createIndices('sandbox_table', [
      // Leads with the deadline and ends with id, so "due, oldest first, ties by id, LIMIT n" is
      // a range read in index order; every other column the scan tests is in the predicate, so
      // PostgreSQL answers it with an Index Only Scan. Only stopped, unprotected rows enter it.
      new TableIndex({
        name: 'IDX_sandbox_table_due_delete',
        columnNames: ['auto_delete_at', 'id'],
        where: dueDeleteWhere(queryRunner),
      }),
      // Rebuilds of the auto-stop index read live rows with a deadline: a small slice of the table.
      new TableIndex({
        name: 'IDX_sandbox_table_auto_stop_at',
        columnNames: ['auto_stop_at'],
        where: `"auto_stop_at" IS NOT NULL`,
      }),
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('sandbox_table', 'IDX_sandbox_table_auto_stop_at');
    await queryRunner.dropIndex('sandbox_table', 'IDX_sandbox_table_due_delete');
    await queryRunner.dropColumns('sandbox_table', ['protected', 'auto_delete_at', 'auto_stop_at']);
  }
}

/**
 * The column default, spelled as each driver's schema reader reports it for the entity's
 * `default: false`, so the migrated schema matches the entity and `migration:generate` stays quiet:
 * PostgreSQL has a real boolean; SQLite stores booleans as 0/1.
 */
function falseDefault(queryRunner: QueryRunner): string {
  return driverOf(queryRunner) === 'postgres' ? 'false' : '0';
}

/**
 * The due-delete predicate. Both drivers accept `false` here (SQLite 3.23+ reads it as 0), and it
 * must be spelled exactly as in the query for SQLite to match the partial index, so the spelling
 * is shared today; a driver-specific form would go here.
 */
function dueDeleteWhere(queryRunner: QueryRunner): string {
  driverOf(queryRunner);
  return `"state" = 'stopped' AND "protected" = false AND "auto_delete_at" IS NOT NULL`;
}

/** The drivers this migration was written and tested for; any other fails loudly. */
function driverOf(queryRunner: QueryRunner): 'postgres' | 'better-sqlite3' {
  const type = queryRunner.connection.options.type;
  if (type === 'postgres' || type === 'better-sqlite3') return type;
  throw new Error(`AddLifecycleDeadlines: not written for the ${type} driver`);
}
