import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A GIN index of each sandbox's labels as jsonb (jsonb_path_ops), PostgreSQL only: a list with
 * many label filters asks `labels::jsonb @> {…}` and PostgreSQL intersects the pairs' posting
 * lists in the index instead of grouping every label row that matches any pair. SQLite has no
 * such index; its list query takes another shape (see sandbox-list-query.ts), so there this
 * migration does nothing. The entity declares the index with synchronize: false, as TypeORM
 * cannot describe an expression index.
 *
 * The SQL is written out here rather than shared, so this migration stays what it was when
 * released even if the queries change later; it must match the query's expression term for term.
 */
export class AddLabelContainmentIndex1795818000000 implements MigrationInterface {
  name = 'AddLabelContainmentIndex1795818000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type !== 'postgres') return;
    await queryRunner.query(
      `CREATE INDEX IF NOT EXISTS "IDX_sandbox_table_labels" ON "sandbox_table" USING GIN ((("labels")::jsonb) jsonb_path_ops)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type !== 'postgres') return;
    await queryRunner.query(`DROP INDEX IF EXISTS "IDX_sandbox_table_labels"`);
  }
}
