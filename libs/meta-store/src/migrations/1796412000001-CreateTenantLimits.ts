import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/**
 * tenant_limits: each tenant's limits on what it holds at once (the admin's PUT
 * /v1/admin/tenants/:tenant/limits). NULL is no limit; a tenant without a row has none. Column
 * types as the entity declares them: 'float' is double precision on PostgreSQL, REAL on SQLite.
 */
export class CreateTenantLimits1796412000001 implements MigrationInterface {
  name = 'CreateTenantLimits1796412000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'tenant_limits',
        columns: [
          { name: 'tenant', type: 'varchar', length: '64', isPrimary: true },
          { name: 'max_sandboxes', type: 'integer', isNullable: true },
          { name: 'max_cpus', type: 'float', isNullable: true },
          { name: 'max_memory_bytes', type: 'bigint', isNullable: true },
          { name: 'updated_at', type: 'bigint' },
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('tenant_limits', true);
  }
}
