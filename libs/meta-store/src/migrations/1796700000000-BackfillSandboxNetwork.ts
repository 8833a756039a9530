import type { MigrationInterface, QueryRunner } from 'typeorm';
import { parseBlob, placeholders } from './1796200000000-BackfillStoredBlobs';

const PAGE = 500;

/**
 * Sandboxes have a `network` setting since this release, in both the info and the spec blob. Every
 * sandbox made before had a network (Docker's default bridge), so `bridge` is what their absence
 * meant; the container itself moves onto sandboxd's own network (SANDBOX_NETWORK) the next time it
 * is started (DockerDeployment.joinSandboxNetwork). Written through parameters like
 * BackfillStoredBlobs, so it serves PostgreSQL and SQLite alike; a blob that is not JSON is left as
 * it is (it reads as RECORD_CORRUPT). `down` is a no-op: older code ignores the key.
 */
export class BackfillSandboxNetwork1796700000000 implements MigrationInterface {
  name = 'BackfillSandboxNetwork1796700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const p = placeholders(queryRunner);
    let after = '';
    for (;;) {
      const rows = (await queryRunner.query(
        `SELECT "id", "info", "spec" FROM "sandbox_table" WHERE "id" > ${p(1)} ORDER BY "id" LIMIT ${PAGE}`,
        [after],
      )) as { id: string; info: unknown; spec: unknown }[];
      for (const row of rows) {
        const info = parseBlob(row.info);
        const spec = parseBlob(row.spec);
        const fillInfo = info !== null && info.network === undefined;
        const fillSpec = spec !== null && spec.network === undefined;
        if (!fillInfo && !fillSpec) continue;
        await queryRunner.query(
          `UPDATE "sandbox_table" SET "info" = ${p(1)}, "spec" = ${p(2)} WHERE "id" = ${p(3)}`,
          [
            fillInfo ? JSON.stringify({ ...info, network: 'bridge' }) : row.info,
            fillSpec ? JSON.stringify({ ...spec, network: 'bridge' }) : row.spec,
            row.id,
          ],
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
