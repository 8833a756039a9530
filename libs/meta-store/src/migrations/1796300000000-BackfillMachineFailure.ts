import type { MigrationInterface, QueryRunner } from 'typeorm';
import { parseBlob, placeholders } from './1796200000000-BackfillStoredBlobs';

const PAGE = 500;

/**
 * The machine keeps a failed effect's coded error in its context (`lastFailure`) since this
 * release; every snapshot persisted before has none recorded, which is `null`. Written through
 * parameters like BackfillStoredBlobs, so it serves PostgreSQL and SQLite alike; a snapshot that
 * is not JSON is left as it is (it reads as RECORD_CORRUPT). `down` is a no-op: older code ignores
 * the key.
 */
export class BackfillMachineFailure1796300000000 implements MigrationInterface {
  name = 'BackfillMachineFailure1796300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const p = placeholders(queryRunner);
    let after = '';
    for (;;) {
      const rows = (await queryRunner.query(
        `SELECT "id", "machine_snapshot" FROM "sandbox_table" WHERE "id" > ${p(1)} ORDER BY "id" LIMIT ${PAGE}`,
        [after],
      )) as { id: string; machine_snapshot: unknown }[];
      for (const row of rows) {
        const snapshot = parseBlob(row.machine_snapshot);
        const context = snapshot === null ? null : parseBlob(snapshot.context);
        if (snapshot === null || context === null || context.lastFailure !== undefined) continue;
        snapshot.context = { ...context, lastFailure: null };
        await queryRunner.query(
          `UPDATE "sandbox_table" SET "machine_snapshot" = ${p(1)} WHERE "id" = ${p(2)}`,
          [JSON.stringify(snapshot), row.id],
        );
      }
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1].id;
    }
  }

  async down(): Promise<void> {
    // Nothing to undo: see the class comment.
  }
}
