import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/**
 * resource_usage: the usage counters admission reserves on (see ResourceUsageEntity), back-filled
 * from the rows as they are: `host` from the live (pending, running) rows, `tenant:<name>` from
 * each tenant's rows that are not deleted. CPUs are summed as whole nano-CPUs, each row rounded
 * first, exactly as the store adds them. Written out here rather than imported, so the migration
 * stays what it was when later code changes.
 */
export class CreateResourceUsage1796910000000 implements MigrationInterface {
  name = 'CreateResourceUsage1796910000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'resource_usage',
        columns: [
          { name: 'scope', type: 'varchar', length: '128', isPrimary: true },
          { name: 'sandboxes', type: 'bigint' },
          { name: 'live_sandboxes', type: 'bigint' },
          { name: 'cpu_nanos', type: 'bigint' },
          { name: 'memory_bytes', type: 'bigint' },
          { name: 'updated_at', type: 'bigint' },
        ],
      }),
      true,
    );
    const now = Date.now();
    const cpuNanos = `COALESCE(SUM(CAST(ROUND("cpus" * 1000000000) AS BIGINT)), 0)`;
    const memory = `COALESCE(SUM("memory_bytes"), 0)`;
    const live = `"state" IN ('pending', 'running')`;
    await queryRunner.query(
      `INSERT INTO "resource_usage" ("scope", "sandboxes", "live_sandboxes", "cpu_nanos", "memory_bytes", "updated_at")
       SELECT 'host', COUNT(*), COUNT(*), ${cpuNanos}, ${memory}, ${now}
       FROM "sandbox_table" WHERE ${live}`,
    );
    await queryRunner.query(
      `INSERT INTO "resource_usage" ("scope", "sandboxes", "live_sandboxes", "cpu_nanos", "memory_bytes", "updated_at")
       SELECT 'tenant:' || "tenant", COUNT(*), SUM(CASE WHEN ${live} THEN 1 ELSE 0 END), ${cpuNanos}, ${memory}, ${now}
       FROM "sandbox_table" WHERE "tenant" <> '' AND "state" <> 'deleted' GROUP BY "tenant"`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('resource_usage', true);
  }
}
