import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/**
 * The API keys of the tenants (issue 12), with TypeORM's portable Table API so one class runs on
 * PostgreSQL and SQLite. Only a hash of each key is stored. Epoch-ms times are `bigint`, as in
 * sandbox_table. No back-fill: there were no keys before.
 *
 * Written out here rather than derived from the entity, so this migration stays what it was when
 * released even if the entity changes later.
 */
export class CreateApiKeyTable1796600000000 implements MigrationInterface {
  name = 'CreateApiKeyTable1796600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'api_key',
        columns: [
          { name: 'id', type: 'varchar', length: '32', isPrimary: true },
          { name: 'key_hash', type: 'varchar', length: '64' },
          { name: 'tenant', type: 'varchar', length: '64' },
          { name: 'name', type: 'varchar', length: '128' },
          { name: 'created_at', type: 'bigint' },
          { name: 'last_used_at', type: 'bigint', isNullable: true },
          { name: 'revoked_at', type: 'bigint', isNullable: true },
        ],
        // The admin list filters by tenant.
        indices: [new TableIndex({ name: 'IDX_api_key_tenant', columnNames: ['tenant'] })],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('api_key');
  }
}
